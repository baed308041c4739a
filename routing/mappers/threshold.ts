import type { ThresholdConfig } from '../../config/mappers.js';
import type { MapRequest } from '../types.js';
import { estimatePromptTokens } from './content.js';
import type { Choice, DynamicMapper, MapContext, MapperObserver } from './types.js';

/** Scores a request; the `threshold` mapper compares the score with its threshold. */
export type Score = (request: MapRequest) => number | Promise<number>;

export const promptTokensScore: Score = (request) => estimatePromptTokens(request.body);

/** Below the threshold → `simple`, at or above → `complex`: by estimated prompt tokens, or a custom score. */
export class ThresholdMapper implements DynamicMapper {
  constructor(
    readonly name: string,
    private readonly config: ThresholdConfig,
    private readonly score: Score,
    private readonly observer: MapperObserver,
  ) {}

  async choose({ request }: MapContext): Promise<Choice> {
    const score = await this.score(request);
    if (typeof score !== 'number' || Number.isNaN(score)) {
      throw new Error(`mapper ${this.name}: its score returned ${String(score)}, not a number`);
    }
    const verdict = score < this.config.threshold ? 'simple' : 'complex';
    this.observer.mapped?.(this.name, verdict, false);
    return { ...this.config[verdict], verdict };
  }
}
