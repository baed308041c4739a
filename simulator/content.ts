// What a simulated completion says: prose, a JSON document for a response_format, or tool calls.
// Deterministic: the output is a function of the messages (or prompt), `seed` and `model` only, so a
// replayed request gets the same answer and different conversations get different ones.
//
// Test hook: markers in the last user message (chat) or in the prompt (completions; with a list of
// prompts, the first that has one) script the output.
//
//   [[sim:answer TEXT]]
//       The output is exactly TEXT, as text, even under a response_format or with tools — so a test can
//       script a classifier's verdict or send malformed JSON. TEXT starts after the one space that
//       follows `answer` and runs to the first `]]`; it may span lines.
//   [[sim:tool NAME ARGS_JSON]]
//       A tool call to NAME whose `arguments` is ARGS_JSON verbatim (`{}` when omitted). NAME need not
//       be among `tools`, ARGS_JSON is not validated (malformed arguments are allowed), and `]]` inside
//       a balanced JSON value does not end the marker. Several markers give several parallel calls.
//       Chat only, and ignored once the conversation ends in a tool result, so one user message can
//       script a whole agent turn: `[[sim:tool get_weather {"city":"Oslo"}]] [[sim:answer Sunny.]]`
//       first calls the tool, then answers "Sunny." after the tool result.
//
// Precedence: sim:tool (unless after a tool result) > sim:answer > tool calls > response_format > prose.

import { Hasher, Rng } from './content/random.js';
import { generateValue } from './content/schema.js';
import { isObj } from './content/schema-util.js';
import { parseMarkers, type Markers } from './content/markers.js';
import { NOUNS, phrase, prose, sentence } from './content/words.js';
import { MAX_PIECE_LENGTH } from './tokens.js';

export type PlannedOutput =
  | { kind: 'text'; text: string }
  | { kind: 'tool_calls'; calls: { id: string; name: string; arguments: string }[] };

type ToolCall = { id: string; name: string; arguments: string };

interface FunctionTool {
  name: string;
  parameters: unknown;
}

/** Chance that an "auto"/"required" turn with several tools and parallel_tool_calls makes two calls. */
const PARALLEL_CHANCE = 0.25;

/** The token limit assumed when the caller gives none (a 128k context). */
const DEFAULT_MAX_TOKENS = 131_072;

/**
 * The output for a validated /v1/chat/completions body (`messages`) or /v1/completions body
 * (`prompt`). Never throws on valid input; the caller truncates to `maxTokens`.
 */
export function planOutput(body: Record<string, unknown>, maxTokens = DEFAULT_MAX_TOKENS): PlannedOutput {
  const messages = Array.isArray(body.messages) ? (body.messages as unknown[]) : undefined;
  const hasher = new Hasher().value(messages ?? body.prompt ?? null);
  hasher.str('\u0000seed').value(body.seed ?? null).str('\u0000model').value(body.model ?? null);
  const rng = new Rng(hasher.digest());
  // Generated JSON stops growing past what max_tokens can show (no token holds more than
  // MAX_PIECE_LENGTH characters, so this many characters make more than maxTokens tokens): a schema's
  // minLength or minItems must not make the generator build gigabytes that the cut would discard.
  const maxChars = (maxTokens + 16) * MAX_PIECE_LENGTH;

  const markers = messages ? parseMarkers(lastUserText(messages)) : promptMarkers(body.prompt);
  const afterToolResult = messages !== undefined && endsInToolResult(messages);
  if (messages && !afterToolResult && markers.tools.length > 0) {
    return toolCalls(markers.tools.map((t) => ({ id: toolCallId(rng), name: t.name, arguments: t.args })));
  }
  if (markers.answer !== undefined) return { kind: 'text', text: markers.answer };
  if (messages) {
    const calls = planToolCalls(body, rng, afterToolResult, maxChars);
    if (calls) return toolCalls(calls);
  }
  return { kind: 'text', text: planText(body, rng, maxChars) };
}

function toolCalls(calls: ToolCall[]): PlannedOutput {
  return { kind: 'tool_calls', calls };
}

/** vLLM's format: `chatcmpl-tool-` and 32 hex digits. */
function toolCallId(rng: Rng): string {
  return `chatcmpl-tool-${rng.hex(32)}`;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const parts: string[] = [];
  for (const part of content) {
    if (typeof part === 'string') parts.push(part);
    else if (isObj(part) && typeof part.text === 'string') parts.push(part.text);
  }
  return parts.join('\n');
}

function lastUserText(messages: unknown[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (isObj(m) && m.role === 'user') return textOf(m.content);
  }
  return '';
}

function promptMarkers(prompt: unknown): Markers {
  if (typeof prompt === 'string') return parseMarkers(prompt);
  if (Array.isArray(prompt)) {
    for (const p of prompt) {
      if (typeof p !== 'string') continue;
      const markers = parseMarkers(p);
      if (markers.answer !== undefined) return markers;
    }
  }
  return parseMarkers('');
}

function endsInToolResult(messages: unknown[]): boolean {
  const last = messages[messages.length - 1];
  return isObj(last) && (last.role === 'tool' || last.role === 'function');
}

function functionTools(tools: unknown): FunctionTool[] {
  if (!Array.isArray(tools)) return [];
  const out: FunctionTool[] = [];
  for (const tool of tools) {
    if (!isObj(tool) || (tool.type !== undefined && tool.type !== 'function')) continue;
    const fn = tool.function;
    if (isObj(fn) && typeof fn.name === 'string') out.push({ name: fn.name, parameters: fn.parameters });
  }
  return out;
}

/** The function a tool_choice names (`{type:"function", function:{name}}`, or the flat `{type, name}`). */
function forcedName(choice: unknown): string | undefined {
  if (!isObj(choice)) return undefined;
  if (isObj(choice.function) && typeof choice.function.name === 'string') return choice.function.name;
  return choice.type === 'function' && typeof choice.name === 'string' ? choice.name : undefined;
}

/**
 * Tool calls for this turn, or undefined for a text answer. "none" never calls; "auto" (the default)
 * calls unless the conversation ends in a tool result; "required" and a named function always call,
 * as their API contract guarantees (vLLM enforces both with guided decoding).
 */
function planToolCalls(body: Record<string, unknown>, rng: Rng, afterToolResult: boolean, maxChars: number): ToolCall[] | undefined {
  const choice = body.tool_choice;
  if (choice === 'none') return undefined;
  const tools = functionTools(body.tools);
  const forced = forcedName(choice);
  if (forced !== undefined) {
    const tool = tools.find((t) => t.name === forced) ?? { name: forced, parameters: undefined };
    return [callTo(tool, rng, maxChars)];
  }
  if (tools.length === 0 || (afterToolResult && choice !== 'required')) return undefined;
  const first = rng.int(0, tools.length - 1);
  const picks = [first];
  if (body.parallel_tool_calls !== false && tools.length > 1 && rng.chance(PARALLEL_CHANCE)) {
    picks.push((first + rng.int(1, tools.length - 1)) % tools.length);
  }
  return picks.map((i) => callTo(tools[i] as FunctionTool, rng, maxChars));
}

function callTo(tool: FunctionTool, rng: Rng, maxChars: number): ToolCall {
  const id = toolCallId(rng);
  const args = tool.parameters === undefined ? {} : generateValue(tool.parameters, rng, 'object', maxChars);
  return { id, name: tool.name, arguments: JSON.stringify(args) ?? '{}' };
}

/** The JSON schema a request constrains its output to: response_format, or vLLM's guided_json / structured_outputs.json. */
function structuredSchema(body: Record<string, unknown>): { schema: unknown } | 'json_object' | undefined {
  const rf = body.response_format;
  if (isObj(rf)) {
    if (rf.type === 'json_schema') {
      const spec = isObj(rf.json_schema) ? rf.json_schema : rf;
      return spec.schema === undefined ? 'json_object' : { schema: spec.schema };
    }
    if (rf.type === 'json_object') return 'json_object';
  }
  const so = isObj(body.structured_outputs) ? body.structured_outputs : undefined;
  const guided = so?.json ?? body.guided_json;
  if (isObj(guided) || typeof guided === 'boolean') return { schema: guided };
  if (typeof guided === 'string') {
    try {
      return { schema: JSON.parse(guided) as unknown };
    } catch {
      return 'json_object';
    }
  }
  return undefined;
}

function planText(body: Record<string, unknown>, rng: Rng, maxChars: number): string {
  const structured = structuredSchema(body);
  if (structured === 'json_object') return JSON.stringify(smallObject(rng));
  if (structured) return JSON.stringify(generateValue(structured.schema, rng, undefined, maxChars)) ?? 'null';
  const so = isObj(body.structured_outputs) ? body.structured_outputs : undefined;
  const choices = so?.choice ?? body.guided_choice;
  if (Array.isArray(choices) && choices.length > 0) return String(rng.pick(choices));
  return prose(rng);
}

/** Some small JSON object for `json_object` mode: two to four fields from a fixed pool, in a stable order. */
function smallObject(rng: Rng): Record<string, unknown> {
  const pool: [string, () => unknown][] = [
    ['answer', () => sentence(rng)],
    ['summary', () => sentence(rng)],
    ['label', () => rng.pick(NOUNS)],
    ['confidence', () => Math.round(rng.next() * 100) / 100],
    ['score', () => rng.int(0, 100)],
    ['valid', () => rng.chance(0.5)],
    ['tags', () => Array.from({ length: rng.int(1, 3) }, () => rng.pick(NOUNS))],
    ['items', () => Array.from({ length: rng.int(1, 3) }, () => phrase(rng))],
  ];
  let wanted = rng.int(2, 4);
  const out: Record<string, unknown> = {};
  // Selection sampling: each field is kept with probability (still wanted / still available).
  for (let i = 0; i < pool.length && wanted > 0; i++) {
    const [key, make] = pool[i] as [string, () => unknown];
    if (rng.chance(wanted / (pool.length - i))) {
      out[key] = make();
      wanted -= 1;
    }
  }
  return out;
}
