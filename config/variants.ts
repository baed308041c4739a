import { z } from 'zod';
import type { MappedStage } from './mappers.js';

// The `mappings:` section: named mapping variants, which a request picks with `X-Orla-Mapping`
// (DESIGN.md, the wire protocol), e.g. an all-heavy baseline or a cheaper mapping to compare against.
// A variant remaps some stages: a backend (and model), or a mapper, with its params. Everything else
// about a stage (its queue, scheduler, weight, fallbacks, cache hint) stays as `stages:` sets it.

/** What a variant may change about a stage; the same rules as in `stages:` (backend or mapper). */
const remap = z.strictObject({
  backend: z.string().optional(),
  mapper: z.string().optional(),
  model: z.string().optional(),
  params: z.record(z.string(), z.unknown()).optional(),
});

/** The name travels in a header: keep it a token. */
const variantName = z.string().regex(/^[\w.:-]{1,64}$/, 'a mapping name is 1–64 letters, digits, or . _ : -');

/** Spread into the top-level config object. */
export const variantConfigKeys = {
  mappings: z.record(variantName, z.record(z.string(), remap)).default({}),
};

export type StageRemap = z.infer<typeof remap>;
export type Variants = Readonly<Record<string, Readonly<Record<string, StageRemap>>>>;

/** The stages as `variant` maps them (stages it does not name are unchanged; names it invents are ignored). */
export function stagesUnder<S extends MappedStage>(stages: Readonly<Record<string, S>>, variant: Readonly<Record<string, StageRemap>>): Record<string, S> {
  const remapped = { ...stages };
  for (const [name, r] of Object.entries(variant)) {
    const base = stages[name];
    if (base) remapped[name] = { ...base, backend: r.backend, mapper: r.mapper, model: r.model, params: r.params };
  }
  return remapped;
}
