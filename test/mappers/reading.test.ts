import { describe, expect, it } from 'vitest';
import { estimatePromptTokens, requestText } from '../../routing/mappers/content.js';
import { predictionOf } from '../../routing/mappers/onebit-prompt.js';

const completion = (content: unknown) => ({ choices: [{ message: { role: 'assistant', content } }] });

describe('what a mapper reads of a request', () => {
  it('chat: the system and user messages in order, not the assistant\'s or tools\'', () => {
    const body = {
      messages: [
        { role: 'system', content: 'You fix bugs.' },
        { role: 'user', content: [{ type: 'text', text: 'The parser ' }, { type: 'text', text: 'crashes.' }] },
        { role: 'assistant', content: 'Looking.' },
        { role: 'tool', content: 'stack trace' },
        { role: 'user', content: 'Any news?' },
      ],
    };
    expect(requestText(body)).toBe('You fix bugs.\n\nThe parser crashes.\n\nAny news?');
  });

  it('the Responses API: instructions, then the input', () => {
    expect(requestText({ instructions: 'Be brief.', input: 'Sum 2 and 3.' })).toBe('Be brief.\n\nSum 2 and 3.');
    expect(requestText({ input: [{ role: 'user', content: 'Hi' }] })).toBe('Hi');
  });

  it('completions: the prompt', () => {
    expect(requestText({ prompt: 'def f(x):' })).toBe('def f(x):');
    expect(requestText({ prompt: ['a', 'b'] })).toBe('a\n\nb');
  });

  it('is cut from the start, where the task is stated', () => {
    const text = requestText({ messages: [{ role: 'user', content: 'task '.repeat(100) }, { role: 'user', content: 'later' }] }, 20);
    expect(text).toBe('task task task task ');
  });

  it('user: the user turns only, so the request\'s own system prompt costs the classifier nothing', () => {
    const body = {
      messages: [
        { role: 'system', content: 'You fix bugs.' },
        { role: 'developer', content: 'Answer with a diff.' },
        { role: 'user', content: 'The parser crashes.' },
        { role: 'assistant', content: 'Looking.' },
        { role: 'user', content: 'Any news?' },
      ],
    };
    expect(requestText(body, Infinity, 'user')).toBe('The parser crashes.\n\nAny news?');
  });

  it('user: a long system prompt does not use up the bound', () => {
    const body = { messages: [{ role: 'system', content: 'boilerplate '.repeat(100) }, { role: 'user', content: 'The parser crashes.' }] };
    expect(requestText(body, 12, 'user')).toBe('The parser c');
  });

  it('user: falls back to the instructions when there are no user turns', () => {
    expect(requestText({ messages: [{ role: 'system', content: 'Summarise the log.' }, { role: 'assistant', content: 'Ok.' }] }, Infinity, 'user')).toBe('Summarise the log.');
    expect(requestText({ instructions: 'Be brief.', input: [] }, Infinity, 'user')).toBe('Be brief.');
  });

  it('user: the Responses API input without its instructions; a completions prompt', () => {
    expect(requestText({ instructions: 'Be brief.', input: 'Sum 2 and 3.' }, Infinity, 'user')).toBe('Sum 2 and 3.');
    expect(requestText({ instructions: 'Be brief.', input: [{ role: 'user', content: 'Hi' }] }, Infinity, 'user')).toBe('Hi');
    expect(requestText({ prompt: 'def f(x):' }, Infinity, 'user')).toBe('def f(x):');
  });

  it('estimates prompt tokens at about four characters each, from every message', () => {
    expect(estimatePromptTokens({ messages: [{ role: 'user', content: 'x'.repeat(400) }, { role: 'assistant', content: 'y'.repeat(400) }] })).toBe(201);
  });
});

describe('reading the classifier\'s answer', () => {
  it('takes {"prediction": <bool>}', () => {
    expect(predictionOf(completion('{"prediction": true}'))).toBe(true);
    expect(predictionOf(completion(' {"prediction":false} '))).toBe(false);
  });

  it('tolerates a reasoning block and a code fence', () => {
    expect(predictionOf(completion('<think>short fix</think>\n```json\n{"prediction": true}\n```'))).toBe(true);
  });

  it.each([
    ['prose', 'Yes, it is simple.'],
    ['a string prediction', '{"prediction": "true"}'],
    ['a missing prediction', '{"simple": true}'],
    ['extra keys', '{"prediction": true, "confidence": 0.9}'],
    ['an array', '[true]'],
    ['no content', null],
  ])('rejects %s', (_name, content) => {
    expect(predictionOf(completion(content))).toBeUndefined();
  });

  it('rejects a body that is not a chat completion', () => {
    expect(predictionOf(undefined)).toBeUndefined();
    expect(predictionOf({ error: { message: 'overloaded' } })).toBeUndefined();
  });
});
