// A cheap deterministic tokenizer and a ChatML chat template (the one Qwen models use).
// Not a real BPE: what matters to the simulator is a realistic token count (~4 characters a token)
// and that a conversation growing turn by turn renders to a growing token prefix, so prefix
// caching behaves as on a real engine. Every request runs through here: keep it fast.
import { LRUCache } from 'lru-cache';

/** Qwen2/Qwen3 ids of the ChatML special tokens (purely cosmetic: any fixed ids would do). */
export const IM_START_ID = 151_644;
export const IM_END_ID = 151_645;

// GPT-style pre-tokenization: a word with its leading space, up to 3 digits, a punctuation run,
// whitespace. Runs are then cut so that long words cost several tokens, as in real vocabularies.
const PIECE_PATTERN = /( ?\p{L}+)| ?\p{N}{1,3}| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
const MAX_WORD_PIECE = 7;
const WORD_CHUNK = 4;
const MAX_OTHER_PIECE = 4;
/** The most UTF-16 units one token can hold (a chunk may take one more unit to keep a surrogate pair whole). */
export const MAX_PIECE_LENGTH = Math.max(MAX_WORD_PIECE, WORD_CHUNK + 1, MAX_OTHER_PIECE + 1);

function pieceId(piece: string): number {
  // FNV-1a, 32 bits.
  let hash = 0x811c9dc5;
  for (let i = 0; i < piece.length; i++) {
    hash ^= piece.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;

function forEachPiece(text: string, visit: (piece: string) => void): void {
  for (const match of text.matchAll(PIECE_PATTERN)) {
    const run = match[0];
    const isWord = match[1] !== undefined;
    const limit = isWord ? MAX_WORD_PIECE : MAX_OTHER_PIECE;
    if (run.length <= limit) {
      visit(run);
      continue;
    }
    const chunk = isWord ? WORD_CHUNK : MAX_OTHER_PIECE;
    for (let i = 0; i < run.length; ) {
      let end = Math.min(i + chunk, run.length);
      // Never split a surrogate pair: a streamed piece must be valid text on its own.
      if (end < run.length && isHighSurrogate(run.charCodeAt(end - 1))) end++;
      visit(run.slice(i, end));
      i = end;
    }
  }
}

export interface TokenizedText {
  ids: Uint32Array;
  /** The text of each token; their concatenation is the input. */
  pieces: string[];
}

/** Token ids and pieces (for output text that is streamed token by token). */
export function tokenizeWithPieces(text: string): TokenizedText {
  const pieces: string[] = [];
  forEachPiece(text, (piece) => pieces.push(piece));
  const ids = new Uint32Array(pieces.length);
  for (let i = 0; i < pieces.length; i++) ids[i] = pieceId(pieces[i]!);
  return { ids, pieces };
}

// Agent loops resend the same system prompt, tools and earlier messages on every call: remember
// each segment's ids so that only the new turn is tokenized.
const segmentCache = new LRUCache<string, Uint32Array>({ maxSize: 64 * 1024 * 1024, sizeCalculation: (_v, key) => key.length + 64 });
const MAX_CACHED_SEGMENT = 1024 * 1024;

/** Token ids of a text (memoized). */
export function tokenIds(text: string): Uint32Array {
  if (text.length === 0) return EMPTY;
  const cached = segmentCache.get(text);
  if (cached) return cached;
  const ids: number[] = [];
  forEachPiece(text, (piece) => ids.push(pieceId(piece)));
  const result = Uint32Array.from(ids);
  if (text.length <= MAX_CACHED_SEGMENT) segmentCache.set(text, result);
  return result;
}

const EMPTY = new Uint32Array(0);
const IM_START = Uint32Array.of(IM_START_ID);
const IM_END = Uint32Array.of(IM_END_ID);

export interface ToolCallText {
  name: string;
  arguments: string;
}

/** How a Qwen model opens and closes a tool call (Hermes style). */
export function toolCallHeader(name: string): string {
  return `<tool_call>\n{"name": ${JSON.stringify(name)}, "arguments": `;
}
export const TOOL_CALL_CLOSE = '}\n</tool_call>';
export const TOOL_CALL_SEPARATOR = '\n';

/**
 * The text of an assistant turn as segments tokenized one by one: the content, then per tool call
 * its header, its arguments and its close. The template and the generated output both use these
 * segments, so a turn the model produced renders back to the very same tokens.
 */
export function assistantSegments(content: string, calls: readonly ToolCallText[]): string[] {
  const segments: string[] = [];
  if (content) segments.push(content);
  calls.forEach((call, i) => {
    if (content || i > 0) segments.push(TOOL_CALL_SEPARATOR);
    segments.push(toolCallHeader(call.name), call.arguments, TOOL_CALL_CLOSE);
  });
  return segments;
}

/** Text of a message `content`: a string, null, or an array of parts (text parts are kept). */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) {
    if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') text += (part as { text: string }).text;
  }
  return text;
}

function assistantToolCalls(message: Record<string, unknown>): ToolCallText[] {
  const calls = message.tool_calls;
  if (!Array.isArray(calls)) return [];
  const result: ToolCallText[] = [];
  for (const call of calls) {
    const fn = (call as { function?: { name?: unknown; arguments?: unknown } } | null)?.function;
    if (!fn) continue;
    const args = typeof fn.arguments === 'string' ? fn.arguments : JSON.stringify(fn.arguments ?? {});
    result.push({ name: String(fn.name ?? ''), arguments: args });
  }
  return result;
}

function toolsBlock(tools: unknown): string {
  if (!Array.isArray(tools) || tools.length === 0) return '';
  return `\n\n# Tools\n\n<tools>\n${tools.map((tool) => JSON.stringify(tool)).join('\n')}\n</tools>`;
}

/**
 * Token ids of a chat prompt in ChatML, with the generation prompt (`<|im_start|>assistant\n`):
 *   <|im_start|>role\ncontent<|im_end|>\n   per message; tools go into the system turn,
 * tool results become a user turn wrapping <tool_response>, as Qwen's template does. Special tokens
 * and segments are tokenized apart, so appending turns never changes the tokens before them, and
 * the previous prompt + the generated tokens (ending in <|im_end|>) is a prefix of the next prompt.
 */
export function renderChatPrompt(messages: readonly Record<string, unknown>[], tools?: unknown): Uint32Array {
  const segments: Uint32Array[] = [];
  const tools_ = toolsBlock(tools);
  const firstIsSystem = messages[0]?.role === 'system';
  if (tools_ && !firstIsSystem) segments.push(IM_START, tokenIds('system\n'), tokenIds(tools_.slice(2)), IM_END, tokenIds('\n'));
  messages.forEach((message, index) => {
    const role = typeof message.role === 'string' ? message.role : 'user';
    const content = contentText(message.content);
    segments.push(IM_START);
    if (role === 'tool') {
      segments.push(tokenIds('user\n<tool_response>\n'), tokenIds(content), tokenIds('\n</tool_response>'));
    } else {
      segments.push(tokenIds(`${role}\n`));
      if (role === 'assistant') for (const segment of assistantSegments(content, assistantToolCalls(message))) segments.push(tokenIds(segment));
      else segments.push(tokenIds(content));
      if (index === 0 && role === 'system' && tools_) segments.push(tokenIds(tools_));
    }
    segments.push(IM_END, tokenIds('\n'));
  });
  segments.push(IM_START, tokenIds('assistant\n'));
  return concat(segments);
}

function concat(parts: readonly Uint32Array[]): Uint32Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint32Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
