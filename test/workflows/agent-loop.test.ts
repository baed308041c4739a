import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Workflow, type StageSpec, type Tool } from '../../workflows/index.js';
import { startRecordingEngine, type RecordingEngine } from '../helpers/recording-engine.js';
import { answer, chatCalls, clientFor, lastMessage } from './helpers.js';

// A stage with tools: the model asks for tools, the library runs them and calls the model again
// with their results, until the model answers or the turn limit is reached.

let engine: RecordingEngine;
beforeEach(async () => {
  engine = await startRecordingEngine();
});
afterEach(() => engine.close());

type Results = { agent: unknown };
const runAgent = (spec: Omit<StageSpec<null, Results, 'agent'>, 'messages'>) =>
  new Workflow<null, Results>('loop', { agent: { messages: () => [{ role: 'user', content: 'look up x' }], ...spec } }).run(null, { client: clientFor(engine.url) });

function lookupTool(calls: unknown[], behave: (args: Record<string, unknown>) => unknown = (args) => `value of ${String(args.key)}`): Tool {
  return {
    name: 'lookup',
    parameters: { type: 'object', properties: { key: { type: 'string' } }, required: ['key'] },
    run: (args) => (calls.push(args), behave(args)),
  };
}

/** Asks for `lookup` until the conversation ends in a tool result, then answers with that result. */
function toolThenAnswer() {
  engine.respondWith((received, res) => {
    const last = lastMessage(received);
    if (last.role === 'tool') answer(res, { content: `final: ${String(last.content)}` });
    else answer(res, { toolCalls: [{ name: 'lookup', args: { key: 'x' } }] });
  });
}

describe('the agent loop', () => {
  it('runs the tools the model asks for and sends their results back', async () => {
    toolThenAnswer();
    const calls: unknown[] = [];
    const result = await runAgent({ tools: [lookupTool(calls)] });

    expect(calls).toEqual([{ key: 'x' }]);
    expect(result.results.agent).toBe('final: value of x');
    const [first, second] = chatCalls(engine.received);
    expect((first!.body.tools as { function: { name: string } }[]).map((t) => t.function.name)).toEqual(['lookup']);
    const messages = second!.body.messages as { role: string; tool_call_id?: string; tool_calls?: { id: string }[] }[];
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(messages[2]!.tool_call_id).toBe(messages[1]!.tool_calls![0]!.id);
    expect(result.stages.agent.tools).toMatchObject([{ name: 'lookup', args: '{"key":"x"}', ok: true, output: 'value of x', turn: 0 }]);
    expect(result.stages.agent.calls.map((c) => c.toolCalls)).toEqual([['lookup'], []]);
  });

  it('stops at the turn limit without running the last turn\'s tools', async () => {
    engine.respondWith((_received, res) => answer(res, { toolCalls: [{ name: 'lookup', args: { key: 'again' } }] }));
    const calls: unknown[] = [];
    const result = await runAgent({ tools: [lookupTool(calls)], maxTurns: 3 });

    expect(chatCalls(engine.received)).toHaveLength(3);
    expect(calls).toHaveLength(2);
    expect(result.status).toBe('failed');
    expect(result.stages.agent.error).toMatchObject({ kind: 'turn_limit', message: expect.stringContaining('within 3 turns') });
  });

  it("sends a tool's failure back to the model instead of failing the stage", async () => {
    toolThenAnswer();
    const result = await runAgent({
      tools: [
        lookupTool([], () => {
          throw new Error('the key store is down');
        }),
      ],
    });
    expect(result.status).toBe('done');
    expect(result.results.agent).toBe('final: error: the key store is down');
    expect(result.stages.agent.tools[0]).toMatchObject({ ok: false });
  });

  it('tells the model about a tool it does not have', async () => {
    engine.respondWith((received, res) => {
      if (lastMessage(received).role === 'tool') answer(res, { content: String(lastMessage(received).content) });
      else answer(res, { toolCalls: [{ name: 'delete_everything', args: {} }] });
    });
    const result = await runAgent({ tools: [lookupTool([])] });
    expect(result.results.agent).toBe('error: unknown tool "delete_everything" (tools: lookup)');
  });

  it('sends the tool choice of each turn', async () => {
    toolThenAnswer();
    await runAgent({ tools: [lookupTool([])], toolChoice: (turn) => (turn === 0 ? { type: 'function', function: { name: 'lookup' } } : undefined) });
    const [first, second] = chatCalls(engine.received);
    expect(first!.body.tool_choice).toEqual({ type: 'function', function: { name: 'lookup' } });
    expect(second!.body).not.toHaveProperty('tool_choice');
  });

  it('asks for a JSON schema answer and returns it parsed', async () => {
    engine.respondWith((_r, res) => answer(res, { content: '{"verdict":"accept"}' }));
    const schema = { type: 'object', properties: { verdict: { type: 'string' } }, required: ['verdict'] };
    const result = await runAgent({ responseFormat: { name: 'verdict', schema } });
    expect(result.results.agent).toEqual({ verdict: 'accept' });
    expect(chatCalls(engine.received)[0]!.body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'verdict', schema, strict: true } });
  });

  it('fails the stage when a structured answer is not JSON', async () => {
    engine.respondWith((_r, res) => answer(res, { content: 'not json' }));
    const result = await runAgent({ responseFormat: { name: 'verdict', schema: { type: 'object' } } });
    expect(result.stages.agent).toMatchObject({ status: 'failed', error: { kind: 'output' } });
  });
});
