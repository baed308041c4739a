// The Responses API's response object and its event stream, as OpenAI serves them (openai-node
// resources/responses: Response, ResponseStreamEvent) and vLLM imitates (serving_responses.py):
// response.created and response.in_progress up front; per output item `output_item.added`, its
// content (`content_part.added`, one `output_text.delta` per token, `output_text.done`,
// `content_part.done`) or its arguments (`function_call_arguments.delta`/`.done`), `output_item.done`;
// then response.completed (response.incomplete when max_output_tokens cut it) carrying the whole
// response with usage. Every event has a sequence_number; SSE framing is `event: T\ndata: JSON\n\n`.
import type { GenerationResult } from '../engine.js';
import type { WireFormat } from '../exchange.js';
import { generatedText, TokenKind, type OutputPlan } from '../output.js';
import type { UsageReport } from '../usage.js';
import type { ResponseIdentity } from '../wire.js';
import type { ResponsesEcho } from './request.js';

type Item = Record<string, unknown>;

export class ResponsesFormat implements WireFormat {
  private sequence = 0;
  private readonly messageId: string;
  /** The function_call item being streamed (its output_index), or -1. */
  private openCall = -1;
  private readonly callArgs: string[] = [];
  private textOpen = false;

  constructor(
    private readonly identity: ResponseIdentity,
    private readonly plan: OutputPlan,
    private readonly echo: ResponsesEcho,
    private readonly usageReport: UsageReport,
  ) {
    this.messageId = `msg_${identity.id.slice('resp_'.length)}`;
  }

  preamble(): string {
    const response = this.response('in_progress', [], null, null);
    return this.event('response.created', { response }) + this.event('response.in_progress', { response });
  }

  opening(): string | null {
    if (this.isCalls) return null;
    this.textOpen = true;
    return (
      this.event('response.output_item.added', { output_index: 0, item: { id: this.messageId, type: 'message', status: 'in_progress', content: [], role: 'assistant' } }) +
      this.event('response.content_part.added', { item_id: this.messageId, output_index: 0, content_index: 0, part: { type: 'output_text', annotations: [], logprobs: [], text: '' } })
    );
  }

  token(index: number): string | null {
    const plan = this.plan;
    switch (plan.kinds[index]) {
      case TokenKind.CONTENT:
        return this.textOpen
          ? `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":${this.sequence++},"item_id":"${this.messageId}","output_index":0,"content_index":0,"delta":${JSON.stringify(plan.pieces[index])},"logprobs":[]}\n\n`
          : null;
      case TokenKind.TOOL_HEADER: {
        const call = plan.callIndex[index]!;
        const closing = this.closeCall();
        this.openCall = call;
        this.callArgs[call] = '';
        return closing + this.event('response.output_item.added', { output_index: call, item: { ...this.callItem(call, ''), status: 'in_progress' } });
      }
      case TokenKind.TOOL_ARGS: {
        const call = plan.callIndex[index]!;
        if (call !== this.openCall) return null;
        this.callArgs[call] += plan.pieces[index]!;
        return `event: response.function_call_arguments.delta\ndata: {"type":"response.function_call_arguments.delta","sequence_number":${this.sequence++},"item_id":${JSON.stringify(this.callItemId(call))},"output_index":${call},"delta":${JSON.stringify(plan.pieces[index])}}\n\n`;
      }
      default:
        return null;
    }
  }

  closing(result: GenerationResult): string {
    let events = this.closeCall();
    if (this.textOpen) {
      const text = generatedText(this.plan, result.completionTokens);
      const part = { type: 'output_text', annotations: [], logprobs: [], text };
      events +=
        this.event('response.output_text.done', { item_id: this.messageId, output_index: 0, content_index: 0, text, logprobs: [] }) +
        this.event('response.content_part.done', { item_id: this.messageId, output_index: 0, content_index: 0, part }) +
        this.event('response.output_item.done', { output_index: 0, item: this.messageItem(text) });
    }
    const response = this.finalResponse(result);
    return events + this.event(response.status === 'completed' ? 'response.completed' : 'response.incomplete', { response });
  }

  body(result: GenerationResult): string {
    return JSON.stringify(this.finalResponse(result));
  }

  /** OpenAI's `error` event, in sequence (the error-after fault on /v1/responses). */
  error(message: string): string {
    return this.event('error', { code: 'server_error', message, param: null });
  }

  private get isCalls(): boolean {
    return this.plan.calls !== null;
  }

  private closeCall(): string {
    const call = this.openCall;
    if (call < 0) return '';
    this.openCall = -1;
    const args = this.callArgs[call]!;
    return (
      this.event('response.function_call_arguments.done', { item_id: this.callItemId(call), output_index: call, name: this.plan.calls![call]!.name, arguments: args }) +
      this.event('response.output_item.done', { output_index: call, item: this.callItem(call, args) })
    );
  }

  private finalResponse(result: GenerationResult): Item {
    const plan = this.plan;
    let output: Item[];
    if (plan.calls && plan.complete) output = plan.calls.map((call, i) => this.callItem(i, call.arguments));
    else output = [this.messageItem(generatedText(plan, result.completionTokens))];
    const cut = plan.finishReason === 'length';
    const usage = {
      input_tokens: result.promptTokens,
      input_tokens_details: { cached_tokens: this.usageReport.responsesCachedTokens(result) },
      output_tokens: result.completionTokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: result.promptTokens + result.completionTokens,
    };
    return this.response(cut ? 'incomplete' : 'completed', output, usage, cut ? { reason: 'max_output_tokens' } : null);
  }

  private response(status: string, output: Item[], usage: Item | null, incompleteDetails: Item | null): Item {
    const echo = this.echo;
    return {
      id: this.identity.id,
      object: 'response',
      created_at: this.identity.created,
      status,
      background: false,
      error: null,
      incomplete_details: incompleteDetails,
      instructions: echo.instructions,
      max_output_tokens: echo.maxOutputTokens,
      max_tool_calls: null,
      model: this.identity.model,
      output,
      parallel_tool_calls: echo.parallelToolCalls,
      previous_response_id: null,
      reasoning: { effort: null, summary: null },
      service_tier: 'auto',
      store: echo.store,
      temperature: echo.temperature,
      text: echo.text,
      tool_choice: echo.toolChoice,
      tools: echo.tools,
      top_logprobs: 0,
      top_p: echo.topP,
      truncation: 'disabled',
      usage,
      user: echo.user,
      metadata: echo.metadata,
    };
  }

  private messageItem(text: string): Item {
    return { id: this.messageId, type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', annotations: [], logprobs: [], text }] };
  }

  /** The planned call id (`chatcmpl-tool-<hex>`) gives the Responses ids: `fc_<hex>` and `call_<hex>`. */
  private callItemId(call: number): string {
    return `fc_${this.plan.calls![call]!.id.slice('chatcmpl-tool-'.length)}`;
  }

  private callItem(call: number, args: string): Item {
    const planned = this.plan.calls![call]!;
    return { id: this.callItemId(call), type: 'function_call', status: 'completed', arguments: args, call_id: `call_${planned.id.slice('chatcmpl-tool-'.length, 'chatcmpl-tool-'.length + 24)}`, name: planned.name };
  }

  private event(type: string, fields: Item): string {
    return `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: this.sequence++, ...fields })}\n\n`;
  }
}
