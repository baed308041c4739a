// What a mapper reads of a request: its text, whatever API shape carries it (chat `messages`,
// Responses `instructions`/`input`, completions `prompt`).

const CHARS_PER_TOKEN = 4; // as engines' tokenizers average on English and code

/** `user`: the user's turns; `all`: the system and developer instructions too. */
export type Reading = 'user' | 'all';

const isInstructions = (role: unknown) => role === 'system' || role === 'developer';

/**
 * The request's text in order, cut to `maxChars` from the start (where the task is stated). `user`
 * skips the instructions, usually the same boilerplate in every request, unless there is nothing
 * else to read; a completions `prompt` counts as the user's words.
 */
export function requestText(body: Readonly<Record<string, unknown>>, maxChars = Infinity, reading: Reading = 'all'): string {
  if (reading === 'all') return collect(body, (role) => role === 'user' || isInstructions(role), maxChars);
  return collect(body, (role) => role === 'user', maxChars) || collect(body, isInstructions, maxChars);
}

/** Prompt length in tokens, estimated from every message's text. */
export function estimatePromptTokens(body: Readonly<Record<string, unknown>>): number {
  return Math.ceil(collect(body, () => true, Infinity).length / CHARS_PER_TOKEN);
}

function collect(body: Readonly<Record<string, unknown>>, wanted: (role: unknown) => boolean, maxChars: number): string {
  const parts: string[] = [];
  let length = 0;
  const add = (text: string) => {
    if (text === '' || length >= maxChars) return;
    parts.push(text);
    length += text.length + 2;
  };
  if (typeof body.instructions === 'string' && wanted('system')) add(body.instructions);
  const items = Array.isArray(body.messages) ? body.messages : Array.isArray(body.input) ? body.input : undefined;
  if (items) {
    for (const item of items) {
      if (item !== null && typeof item === 'object' && wanted((item as { role?: unknown }).role)) add(textOf((item as { content?: unknown }).content));
    }
  } else if (wanted('user')) {
    const prompt = body.prompt ?? body.input;
    if (typeof prompt === 'string') add(prompt);
    else if (Array.isArray(prompt)) for (const p of prompt) if (typeof p === 'string') add(p);
  }
  return parts.join('\n\n').slice(0, maxChars);
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) {
    const value = part !== null && typeof part === 'object' ? (part as { text?: unknown }).text : undefined;
    if (typeof value === 'string') text += value;
  }
  return text;
}
