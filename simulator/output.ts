// Turns what the model should say (content.ts) into the exact token sequence the engine generates,
// with what each token adds to a streamed delta, after max_tokens, min_tokens and ignore_eos.
import type { PlannedOutput } from './content.js';
import { IM_END_ID, TOOL_CALL_CLOSE, TOOL_CALL_SEPARATOR, tokenizeWithPieces, toolCallHeader } from './tokens.js';

/** What one generated token contributes to a chat delta. */
export const TokenKind = {
  /** Text content. */
  CONTENT: 0,
  /** The token that completes a tool call's name: the delta opening the call (id, type, name). */
  TOOL_HEADER: 1,
  /** A fragment of a tool call's arguments. */
  TOOL_ARGS: 2,
  /** Tool-call markup the parser swallows: no delta (vLLM skips the chunk). */
  SILENT: 3,
  /** The end-of-sequence token (<|im_end|>): no text. */
  EOS: 4,
} as const;

export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

export interface OutputPlan {
  tokenIds: Uint32Array;
  /** Text of each token ('' for EOS). */
  pieces: string[];
  kinds: Uint8Array;
  /** For tool tokens, which call they belong to. */
  callIndex: Uint16Array;
  /** The planned tool calls, or null for a text answer. */
  calls: ToolCall[] | null;
  /** Every planned token is generated (a tool call that was cut cannot be parsed). */
  complete: boolean;
  finishReason: 'stop' | 'length' | 'tool_calls';
}

export interface OutputLimits {
  maxTokens: number;
  minTokens: number;
  ignoreEos: boolean;
  /** tool_choice named a function: vLLM reports "stop" rather than "tool_calls". */
  namedToolChoice: boolean;
}

// When there is no text to repeat (an empty answer), generated filler reads like this.
const FILLER = tokenizeWithPieces(' and so on');

class TokenSink {
  ids: number[] = [];
  pieces: string[] = [];
  kinds: number[] = [];
  calls: number[] = [];
  push(id: number, piece: string, kind: number, call = 0): void {
    this.ids.push(id);
    this.pieces.push(piece);
    this.kinds.push(kind);
    this.calls.push(call);
  }
  pushText(text: string, kind: number, call = 0, lastKind = kind): void {
    const { ids, pieces } = tokenizeWithPieces(text);
    for (let i = 0; i < ids.length; i++) this.push(ids[i]!, pieces[i]!, i === ids.length - 1 ? lastKind : kind, call);
  }
}

export function buildOutputPlan(planned: PlannedOutput, limits: OutputLimits): OutputPlan {
  const sink = new TokenSink();
  if (planned.kind === 'text') {
    sink.pushText(planned.text, TokenKind.CONTENT);
  } else {
    // The same segments as the chat template (tokens.ts assistantSegments), so the turn renders back identically.
    planned.calls.forEach((call, i) => {
      if (i > 0) sink.pushText(TOOL_CALL_SEPARATOR, TokenKind.SILENT, i);
      sink.pushText(toolCallHeader(call.name), TokenKind.SILENT, i, TokenKind.TOOL_HEADER);
      sink.pushText(call.arguments, TokenKind.TOOL_ARGS, i);
      sink.pushText(TOOL_CALL_CLOSE, TokenKind.SILENT, i);
    });
  }
  const bodyLength = sink.ids.length;
  const isText = planned.kind === 'text';
  const source = isText && bodyLength > 0 ? { ids: sink.ids.slice(), pieces: sink.pieces.slice() } : { ids: [...FILLER.ids], pieces: FILLER.pieces };
  const fillTo = (length: number): void => {
    for (let j = 0; sink.ids.length < length; j++) {
      const at = j % source.ids.length;
      sink.push(source.ids[at]!, source.pieces[at]!, isText ? TokenKind.CONTENT : TokenKind.SILENT);
    }
  };
  // ignore_eos: the EOS token is never sampled, so generation runs to max_tokens (vLLM's benchmark mode).
  // min_tokens: EOS is masked until that many tokens are out.
  if (limits.ignoreEos) {
    fillTo(limits.maxTokens);
  } else {
    fillTo(Math.max(bodyLength, limits.minTokens));
    sink.push(IM_END_ID, '', TokenKind.EOS);
  }
  const length = Math.min(sink.ids.length, limits.maxTokens);
  const complete = length >= bodyLength;
  const toolFinish = limits.namedToolChoice ? 'stop' : 'tool_calls';
  let finishReason: OutputPlan['finishReason'];
  if (!isText && complete) finishReason = toolFinish;
  else if (limits.ignoreEos || length < sink.ids.length) finishReason = 'length';
  else finishReason = 'stop';
  return {
    tokenIds: Uint32Array.from(sink.ids.slice(0, length)),
    pieces: sink.pieces.slice(0, length),
    kinds: Uint8Array.from(sink.kinds.slice(0, length)),
    callIndex: Uint16Array.from(sink.calls.slice(0, length)),
    calls: planned.kind === 'tool_calls' ? planned.calls.map((call) => ({ ...call })) : null,
    complete,
    finishReason,
  };
}

/** The text of the first `generated` tokens (what a cut or text answer holds). */
export function generatedText(plan: OutputPlan, generated: number): string {
  let text = '';
  for (let i = 0; i < generated && i < plan.pieces.length; i++) text += plan.pieces[i];
  return text;
}
