import type { OneBitConfig } from '../../config/mappers.js';

// OneBit's question to its classifier and how its answer is read. `prediction: true` means simple:
// the light model will do.

const ANSWER = 'Answer with JSON only: {"prediction": true} when the small model is enough, {"prediction": false} otherwise.';

const PRESETS: Record<Exclude<OneBitConfig['prompt'], { text: string }>, string> = {
  general:
    'You route requests between a small, fast language model and a large, capable one. Read the request ' +
    'between <request> tags; do not answer it. Judge whether the small model can answer it well: a short ' +
    'factual question, a rewrite, an extraction or a classification, a routine step with an evident answer. ' +
    'It cannot when the request needs several steps of reasoning, careful long writing, specialist knowledge, ' +
    'or code beyond a small local change. ' + ANSWER,
  'swe-bench':
    'You triage GitHub issues for an automated repair system that has a small, fast model and a large, capable ' +
    'one. Read the issue (and any code) between <request> tags; do not fix it. The small model is enough when ' +
    'the fix is likely small and local: one file, a few lines, an evident cause (a wrong condition, a missing ' +
    'argument or case, an off-by-one, a wrong default). The large model is needed when the fix likely spans ' +
    'several files or modules, changes an API or a design, or when the root cause is unclear. ' + ANSWER,
};

export function promptText(prompt: OneBitConfig['prompt']): string {
  return typeof prompt === 'string' ? PRESETS[prompt] : prompt.text;
}

/** Structured output, so an engine with guided decoding can only answer `{"prediction": <bool>}`. */
export const VERDICT_FORMAT = {
  type: 'json_schema',
  json_schema: {
    name: 'onebit_verdict',
    strict: true,
    schema: {
      type: 'object',
      properties: { prediction: { type: 'boolean', description: 'true: the small model is enough' } },
      required: ['prediction'],
      additionalProperties: false,
    },
  },
} as const;

/**
 * The fixed instructions first, the request after: every call then starts with the same tokens,
 * which the engine's prefix cache serves (and `cached_input_per_mtok` prices) after the first call.
 */
export function classifierMessages(prompt: string, text: string): { role: string; content: string }[] {
  return [
    { role: 'system', content: prompt },
    { role: 'user', content: `<request>\n${text}\n</request>` },
  ];
}

/**
 * The prediction in a chat completion; undefined when the answer is not exactly `{"prediction": <bool>}`.
 * A reasoning model's <think> block and a Markdown code fence around the JSON are tolerated.
 */
export function predictionOf(completion: unknown): boolean | undefined {
  const choices = (completion as { choices?: { message?: { content?: unknown } }[] } | undefined)?.choices;
  const content = Array.isArray(choices) ? choices[0]?.message?.content : undefined;
  if (typeof content !== 'string') return undefined;
  const json = content
    .replace(/^\s*<think>[\s\S]*?<\/think>/, '')
    .trim()
    .replace(/^```(?:json)?\s*([\s\S]*?)\s*```$/, '$1');
  let answer: unknown;
  try {
    answer = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (answer === null || typeof answer !== 'object' || Array.isArray(answer)) return undefined;
  const keys = Object.keys(answer);
  const prediction = (answer as { prediction?: unknown }).prediction;
  return keys.length === 1 && typeof prediction === 'boolean' ? prediction : undefined;
}
