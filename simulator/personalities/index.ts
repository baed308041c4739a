// Turns a personality name and its engine flags into the Personality the server consults, refusing
// a flag that belongs to another engine (so a mistyped setup fails loudly, not silently).
import type { Engine } from '../engine.js';
import { LlamacppPersonality, type LlamacppOptions } from './llamacpp.js';
import { PERSONALITY_NAMES, type Personality, type PersonalityName } from './personality.js';
import { SglangPersonality, type SglangOptions } from './sglang.js';
import { SimulatorPersonality } from './simulator.js';
import { VllmPersonality, type VllmOptions } from './vllm.js';

export { PERSONALITY_NAMES, type Personality, type PersonalityName } from './personality.js';
export type { LlamacppOptions } from './llamacpp.js';
export type { SglangOptions } from './sglang.js';
export type { VllmOptions } from './vllm.js';

/** Every personality's engine flags, named after the engines' own command-line flags. */
export type PersonalityOptions = VllmOptions & SglangOptions & LlamacppOptions;

const FLAGS_OF: Readonly<Record<PersonalityName, readonly (keyof PersonalityOptions)[]>> = {
  simulator: [],
  vllm: ['enablePromptTokensDetails', 'devMode', 'schedulingPolicy'],
  sglang: ['apiKey', 'adminApiKey', 'enableCacheReport', 'enableMetrics', 'enablePriorityScheduling', 'scheduleLowPriorityValuesFirst', 'abortOnPriorityWhenDisabled'],
  llamacpp: ['parallel', 'slotSavePath', 'metrics', 'slotPromptSimilarity'],
};

export function createPersonality(name: string, engine: Engine, modelName: string, options: PersonalityOptions): Personality {
  if (!(PERSONALITY_NAMES as readonly string[]).includes(name)) throw new RangeError(`unknown engine personality "${name}" (known: ${PERSONALITY_NAMES.join(', ')})`);
  const personality = name as PersonalityName;
  for (const [other, flags] of Object.entries(FLAGS_OF)) {
    if (other === personality) continue;
    for (const flag of flags) {
      if (options[flag] !== undefined && !FLAGS_OF[personality].includes(flag)) throw new RangeError(`${flag} is a ${other} option; this simulator imitates ${personality}`);
    }
  }
  if (options.parallel !== undefined && (!Number.isInteger(options.parallel) || options.parallel < 1)) throw new RangeError(`parallel must be a positive integer, got ${options.parallel}`);
  if (options.slotPromptSimilarity !== undefined && !(options.slotPromptSimilarity >= 0 && options.slotPromptSimilarity <= 1)) {
    throw new RangeError(`slotPromptSimilarity must be between 0 and 1, got ${options.slotPromptSimilarity}`);
  }
  if (options.schedulingPolicy !== undefined && options.schedulingPolicy !== 'fcfs' && options.schedulingPolicy !== 'priority') {
    throw new RangeError(`schedulingPolicy must be fcfs or priority, got ${String(options.schedulingPolicy)}`);
  }
  switch (personality) {
    case 'vllm':
      return new VllmPersonality(engine, modelName, options);
    case 'sglang':
      return new SglangPersonality(engine, modelName, options);
    case 'llamacpp':
      return new LlamacppPersonality(engine, options);
    default:
      return new SimulatorPersonality(engine, modelName);
  }
}
