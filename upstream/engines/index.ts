import { llamacpp } from './llamacpp.js';
import { ollama } from './ollama.js';
import { openai } from './openai.js';
import { sglang } from './sglang.js';
import { simulator } from './simulator.js';
import type { Engine, EngineKind } from './types.js';
import { vllm } from './vllm.js';

export { ENGINES, globalFlushAllowed } from './types.js';
export type { ActionResult, CacheAdapter, RequestTags, CacheResult, Engine, EngineCall, EngineKind, PriorityOrder, ReleaseContext, ReplicaRef } from './types.js';

const BY_KIND: Record<EngineKind, Engine> = { vllm, sglang, llamacpp, ollama, openai, simulator };

export const engineOf = (kind: EngineKind): Engine => BY_KIND[kind];

/** Request fields only some engines read: a stage's params naming one must suit its engine. */
export const ENGINE_ONLY_FIELDS: ReadonlySet<string> = new Set(Object.values(BY_KIND).flatMap((e) => e.fields));

/** The engines that read `field`. */
export const enginesReading = (field: string): EngineKind[] => Object.values(BY_KIND).filter((e) => e.fields.includes(field)).map((e) => e.kind);

/** The Authorization header that carries a backend's key to any engine (all take a bearer token). */
export const authorization = (key: string | undefined): Record<string, string> => (key ? { authorization: `Bearer ${key}` } : {});
