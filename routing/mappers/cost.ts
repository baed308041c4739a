import type { CostMapperConfig, SideConfig } from '../../config/mappers.js';
import { badRequest } from '../../errors.js';
import { costOf } from '../cost.js';
import { estimatePromptTokens } from './content.js';
import type { BackendState, Choice, DynamicMapper, MapContext, MapperObserver } from './types.js';

interface Candidate {
  side: SideConfig;
  state: BackendState;
  quality: number;
  /** This request's estimated cost there, to rank candidates. */
  costUsd: number;
}

/**
 * The cheapest candidate whose declared quality meets the request's (`X-Orla-Quality`, else
 * `default_quality`). None does: `strict` answers 400, `prefer` takes the best quality there is.
 * A backend whose circuits are all open is chosen only when no other qualifies.
 */
export class CostMapper implements DynamicMapper {
  constructor(readonly name: string, private readonly config: CostMapperConfig, private readonly observer: MapperObserver) {}

  choose({ request, backends }: MapContext): Choice {
    const wanted = request.identity.quality ?? this.config.default_quality;
    const expected = {
      promptTokens: estimatePromptTokens(request.body),
      completionTokens: maxTokens(request.body) ?? this.config.output_tokens,
      cachedTokens: 0,
    };
    const candidates: Candidate[] = this.config.candidates.map((side) => {
      const state = backends.get(side.backend)!;
      return { side, state, quality: state.quality ?? 0, costUsd: costOf(expected, state.price) };
    });
    const meeting = candidates.filter((c) => c.quality >= wanted);
    let chosen: Candidate;
    if (meeting.length > 0) chosen = best(meeting, (a, b) => a.costUsd < b.costUsd);
    else if (this.config.mode === 'strict') {
      const top = best(candidates, (a, b) => a.quality > b.quality);
      throw badRequest(
        `no backend meets quality ${wanted} (the best is ${top.side.backend} at ${top.quality})`,
        'x-orla-quality',
        'quality_unavailable',
      );
    } else chosen = best(candidates, (a, b) => a.quality > b.quality || (a.quality === b.quality && a.costUsd < b.costUsd));
    this.observer.mapped?.(this.name, undefined, false);
    return { ...chosen.side };
  }
}

/** The best by `better`, among the backends that can serve now when there are any. */
function best(candidates: readonly Candidate[], better: (a: Candidate, b: Candidate) => boolean): Candidate {
  const live = candidates.filter((c) => !c.state.circuitOpen);
  const pool = live.length > 0 ? live : candidates;
  return pool.reduce((top, c) => (better(c, top) ? c : top));
}

function maxTokens(body: Readonly<Record<string, unknown>>): number | undefined {
  const value = body.max_completion_tokens ?? body.max_tokens ?? body.max_output_tokens;
  return typeof value === 'number' && value > 0 ? value : undefined;
}
