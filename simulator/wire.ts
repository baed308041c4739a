// Response bodies and SSE chunks in vLLM's wire format (vllm/entrypoints/openai/chat_completion/
// serving.py and completion/serving.py, protocol.py). Streamed chunks are serialized by vLLM with
// exclude_unset: a chunk has no `usage` key (not even null) unless continuous usage is asked for;
// the first chat chunk carries {"role":"assistant","content":""}; the chunk of the last token
// carries finish_reason and stop_reason; with stream_options.include_usage a final chunk with
// `choices: []` and the usage follows; then `data: [DONE]`. Chunks are built by string
// concatenation: they are written once per generated token.
import type { GenerationResult } from './engine.js';
import type { WireFormat } from './exchange.js';
import { generatedText, TokenKind, type OutputPlan } from './output.js';
import type { UsageReport } from './usage.js';

export const SSE_DONE = 'data: [DONE]\n\n';

export interface ResponseIdentity {
  id: string;
  created: number;
  model: string;
}

function chunkHead(identity: ResponseIdentity, object: string): string {
  return `{"id":${JSON.stringify(identity.id)},"object":"${object}","created":${identity.created},"model":${JSON.stringify(identity.model)}`;
}

export class ChatChunks implements WireFormat {
  private readonly head: string;
  private readonly choiceHead: string;

  constructor(
    private readonly identity: ResponseIdentity,
    private readonly plan: OutputPlan,
    private readonly usageReport: UsageReport,
    private readonly includeUsage: boolean,
  ) {
    this.head = chunkHead(identity, 'chat.completion.chunk');
    this.choiceHead = `data: ${this.head},"choices":[{"index":0,"delta":`;
  }

  preamble(): null {
    return null;
  }

  opening(): string {
    return `${this.choiceHead}{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n`;
  }

  /** The chunk for output token `index`, or null when that token shows nothing (tool-call markup). */
  token(index: number): string | null {
    const plan = this.plan;
    const isLast = index === plan.pieces.length - 1;
    let delta = this.delta(index);
    if (delta === null) {
      if (!isLast) return null;
      // vLLM's finish chunk after tool calls: an empty arguments delta for the last call.
      delta = plan.calls && plan.complete ? `{"tool_calls":[{"index":${plan.calls.length - 1},"function":{"arguments":""}}]}` : '{}';
    }
    const finish = isLast ? `"finish_reason":"${plan.finishReason}","stop_reason":null` : '"finish_reason":null';
    return `${this.choiceHead}${delta},"logprobs":null,${finish}}]}\n\n`;
  }

  closing(result: GenerationResult): string {
    if (!this.includeUsage) return SSE_DONE;
    return `data: ${this.head},"choices":[],"usage":${this.usageReport.completionUsage(result, true)}${this.usageReport.extraFields(result)}}\n\n${SSE_DONE}`;
  }

  body(result: GenerationResult): string {
    return chatCompletionBody(this.identity, this.plan, result, this.usageReport);
  }

  private delta(index: number): string | null {
    const plan = this.plan;
    switch (plan.kinds[index]) {
      case TokenKind.CONTENT:
        return `{"content":${JSON.stringify(plan.pieces[index])}}`;
      case TokenKind.TOOL_HEADER: {
        const callIndex = plan.callIndex[index]!;
        const call = plan.calls![callIndex]!;
        return `{"tool_calls":[{"index":${callIndex},"id":${JSON.stringify(call.id)},"type":"function","function":{"name":${JSON.stringify(call.name)},"arguments":""}}]}`;
      }
      case TokenKind.TOOL_ARGS:
        return `{"tool_calls":[{"index":${plan.callIndex[index]},"function":{"arguments":${JSON.stringify(plan.pieces[index])}}}]}`;
      case TokenKind.EOS:
        return plan.calls ? null : '{"content":""}';
      default:
        return null;
    }
  }
}

/** The non-streaming chat.completion body (vLLM serializes every field, nulls included). */
export function chatCompletionBody(identity: ResponseIdentity, plan: OutputPlan, result: GenerationResult, usage: UsageReport): string {
  const parsedCalls = plan.calls && plan.complete ? plan.calls : null;
  const message = {
    role: 'assistant',
    content: parsedCalls ? null : generatedText(plan, result.completionTokens),
    refusal: null,
    annotations: null,
    audio: null,
    function_call: null,
    tool_calls: (parsedCalls ?? []).map((call) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } })),
    reasoning_content: null,
  };
  const choice = { index: 0, message, logprobs: null, finish_reason: plan.finishReason, stop_reason: null };
  return `${chunkHead(identity, 'chat.completion')},"choices":[${JSON.stringify(choice)}],"service_tier":null,"system_fingerprint":null,"usage":${usage.completionUsage(result, false)},"prompt_logprobs":null,"kv_transfer_params":null${usage.extraFields(result)}}`;
}

export class CompletionChunks implements WireFormat {
  private readonly head: string;
  private readonly choiceHead: string;

  constructor(
    private readonly identity: ResponseIdentity,
    private readonly plan: OutputPlan,
    private readonly usageReport: UsageReport,
    private readonly includeUsage: boolean,
  ) {
    this.head = chunkHead(identity, 'text_completion');
    this.choiceHead = `data: ${this.head},"choices":[{"index":0,"text":`;
  }

  preamble(): null {
    return null;
  }

  opening(): null {
    return null;
  }

  token(index: number): string {
    const isLast = index === this.plan.pieces.length - 1;
    const finish = isLast ? `"${this.plan.finishReason}"` : 'null';
    return `${this.choiceHead}${JSON.stringify(this.plan.pieces[index])},"logprobs":null,"finish_reason":${finish},"stop_reason":null}]}\n\n`;
  }

  closing(result: GenerationResult): string {
    if (!this.includeUsage) return SSE_DONE;
    return `data: ${this.head},"choices":[],"usage":${this.usageReport.completionUsage(result, true)}${this.usageReport.extraFields(result)}}\n\n${SSE_DONE}`;
  }

  body(result: GenerationResult): string {
    return completionBody(this.identity, this.plan, result, this.usageReport);
  }
}

export function completionBody(identity: ResponseIdentity, plan: OutputPlan, result: GenerationResult, usage: UsageReport): string {
  const choice = {
    index: 0,
    text: generatedText(plan, result.completionTokens),
    logprobs: null,
    finish_reason: plan.finishReason,
    stop_reason: null,
    prompt_logprobs: null,
  };
  return `${chunkHead(identity, 'text_completion')},"choices":[${JSON.stringify(choice)}],"service_tier":null,"system_fingerprint":null,"usage":${usage.completionUsage(result, false)},"kv_transfer_params":null${usage.extraFields(result)}}`;
}
