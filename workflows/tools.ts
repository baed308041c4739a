import type { FunctionCall } from './call.js';
import type { Emit } from './events.js';
import type { ChatMessage, Tool, ToolCallRecord, ToolContext } from './types.js';

// Running the tool calls of one turn. A tool's failure (unknown name, arguments that are not JSON,
// a throw) goes back to the model as the tool's answer, as agent frameworks do, so the model can
// correct itself; only cancellation stops the stage.

export interface ToolTurn {
  messages: ChatMessage[];
  records: ToolCallRecord[];
}

/** Runs the calls concurrently (they are independent by the API's contract); results keep the calls' order. */
export async function runToolCalls(
  tools: readonly Tool[],
  calls: readonly FunctionCall[],
  turn: number,
  ctx: ToolContext,
  emit: Emit,
): Promise<ToolTurn> {
  const records = await Promise.all(calls.map((call) => runToolCall(tools, call, turn, ctx, emit)));
  return {
    records,
    messages: records.map((r) => ({ role: 'tool', tool_call_id: r.id, content: r.output })),
  };
}

async function runToolCall(tools: readonly Tool[], call: FunctionCall, turn: number, ctx: ToolContext, emit: Emit): Promise<ToolCallRecord> {
  emit({ type: 'tool_started', stage: ctx.stage, id: call.id, name: call.name, args: call.arguments });
  const started = performance.now();
  let ok = false;
  let output: string;
  const tool = tools.find((t) => t.name === call.name);
  if (!tool) {
    output = `error: unknown tool "${call.name}" (tools: ${tools.map((t) => t.name).join(', ')})`;
  } else {
    try {
      const args = parseArguments(call.arguments);
      output = serialize(await tool.run(args, ctx));
      ok = true;
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      output = `error: ${(err as Error).message ?? String(err)}`;
    }
  }
  const record: ToolCallRecord = { id: call.id, turn, name: call.name, args: call.arguments, ok, output, durationMs: performance.now() - started };
  emit({ type: 'tool_finished', stage: ctx.stage, tool: record });
  return record;
}

function parseArguments(text: string): Record<string, unknown> {
  let args: unknown;
  try {
    args = JSON.parse(text || '{}');
  } catch (err) {
    throw new Error(`the arguments are not valid JSON (${(err as Error).message})`);
  }
  if (args === null || typeof args !== 'object' || Array.isArray(args)) throw new Error('the arguments must be a JSON object');
  return args as Record<string, unknown>;
}

function serialize(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return 'ok';
  return JSON.stringify(value);
}
