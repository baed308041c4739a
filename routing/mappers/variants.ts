import { badRequest } from '../../errors.js';
import type { MapRequest, StageMapper, Target } from '../types.js';

/**
 * The stage mapping a request names with `X-Orla-Mapping` (config `mappings:`), else the configured
 * one. Naming a mapping that does not exist is a 400: a typo must not silently change nothing.
 */
export class VariantMapping implements StageMapper {
  readonly name = 'variants';

  constructor(
    private readonly configured: StageMapper,
    private readonly variants: ReadonlyMap<string, StageMapper>,
  ) {}

  map(request: MapRequest): Target | Promise<Target> {
    const name = request.identity.mapping;
    if (name === undefined) return this.configured.map(request);
    const variant = this.variants.get(name);
    if (variant) return variant.map(request);
    const known = this.variants.size > 0 ? `known: ${[...this.variants.keys()].join(', ')}` : 'no `mappings` are configured';
    throw badRequest(`X-Orla-Mapping: unknown mapping "${name}" (${known})`, null, 'mapping_not_found');
  }
}
