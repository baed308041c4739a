import { describe, expect, it } from 'vitest';
import { buildOutputPlan } from '../../simulator/output.js';
import { IM_END_ID, renderChatPrompt, tokenIds, tokenizeWithPieces } from '../../simulator/tokens.js';

const PROSE =
  'The scheduler admits waiting requests while the batch has room. Each step decodes one token per running sequence, ' +
  'and the remaining budget goes to chunked prefill of new prompts, which keeps inter-token latency predictable.';

const startsWith = (whole: Uint32Array, prefix: Uint32Array) => prefix.length <= whole.length && prefix.every((id, i) => whole[i] === id);

describe('tokenizer', () => {
  it('costs about four characters per token on English prose', () => {
    const { ids } = tokenizeWithPieces(PROSE);
    const charsPerToken = PROSE.length / ids.length;
    expect(charsPerToken).toBeGreaterThan(3);
    expect(charsPerToken).toBeLessThan(6);
  });

  it('returns pieces that concatenate back to the text, with the same ids every time', () => {
    const text = 'Hello, wörld! 12345 {"a": [1, 2]}\n\n  indented\tcode();';
    const { ids, pieces } = tokenizeWithPieces(text);
    expect(pieces.join('')).toBe(text);
    expect(ids).toEqual(tokenizeWithPieces(text).ids);
    expect(tokenIds(text)).toEqual(ids);
    expect(ids.every((id) => Number.isInteger(id) && id >= 0 && id < 2 ** 32)).toBe(true);
  });

  it('renders a conversation growing turn by turn to a growing token prefix, the generated turn included', () => {
    const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }];
    const turn1 = [
      { role: 'system', content: 'You are a support agent.' },
      { role: 'user', content: 'Where is my order?' },
    ];
    const prompt1 = renderChatPrompt(turn1, tools);
    // The model answers with a tool call: its generated tokens end in <|im_end|>.
    const call = { id: 'call-1', name: 'lookup', arguments: '{"order": 42}' };
    const output = buildOutputPlan({ kind: 'tool_calls', calls: [call] }, { maxTokens: 100, minTokens: 0, ignoreEos: false, namedToolChoice: false });
    expect(output.tokenIds.at(-1)).toBe(IM_END_ID);
    const turn2 = [
      ...turn1,
      { role: 'assistant', content: null, tool_calls: [{ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }] },
      { role: 'tool', tool_call_id: call.id, content: 'shipped yesterday' },
    ];
    const prompt2 = renderChatPrompt(turn2, tools);
    const generated = new Uint32Array([...prompt1, ...output.tokenIds]);
    expect(startsWith(prompt2, generated)).toBe(true);

    const answer = buildOutputPlan({ kind: 'text', text: 'It shipped yesterday.' }, { maxTokens: 100, minTokens: 0, ignoreEos: false, namedToolChoice: false });
    const turn3 = [...turn2, { role: 'assistant', content: 'It shipped yesterday.' }, { role: 'user', content: 'Thanks!' }];
    expect(startsWith(renderChatPrompt(turn3, tools), new Uint32Array([...prompt2, ...answer.tokenIds]))).toBe(true);
  });

  it('never splits a character across two tokens', () => {
    const { pieces } = tokenizeWithPieces('🎉🎉🎉🎉🎉 done 😀😀😀!');
    expect(pieces.join('')).toBe('🎉🎉🎉🎉🎉 done 😀😀😀!');
    for (const piece of pieces) expect(piece).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
  });

  it('gives different conversations different tokens', () => {
    const a = renderChatPrompt([{ role: 'user', content: 'first question' }]);
    const b = renderChatPrompt([{ role: 'user', content: 'second question' }]);
    expect(a).not.toEqual(b);
  });
});

describe('output plan', () => {
  const text = { kind: 'text' as const, text: 'One two three four five.' };
  const limits = { maxTokens: 1000, minTokens: 0, ignoreEos: false, namedToolChoice: false };

  it('ends a complete answer with the end-of-sequence token and finish reason stop', () => {
    const plan = buildOutputPlan(text, limits);
    expect(plan.finishReason).toBe('stop');
    expect(plan.pieces.join('')).toBe(text.text);
    expect(plan.tokenIds.at(-1)).toBe(IM_END_ID);
  });

  it('cuts at max_tokens with finish reason length', () => {
    const plan = buildOutputPlan(text, { ...limits, maxTokens: 3 });
    expect(plan.tokenIds.length).toBe(3);
    expect(plan.finishReason).toBe('length');
  });

  it('generates exactly max_tokens under ignore_eos, and at least min_tokens before stopping', () => {
    const exact = buildOutputPlan(text, { ...limits, maxTokens: 50, ignoreEos: true });
    expect(exact.tokenIds.length).toBe(50);
    expect(exact.finishReason).toBe('length');
    const atLeast = buildOutputPlan(text, { ...limits, minTokens: 20 });
    expect(atLeast.tokenIds.length).toBe(21);
    expect(atLeast.finishReason).toBe('stop');
  });
});
