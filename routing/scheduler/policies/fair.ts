import type { StageScheduler } from '../types.js';

/**
 * Weighted round robin across the stages that are waiting (smooth WRR, as nginx balances): each
 * pick, every waiting stage earns its weight; the richest is served and pays the total. A stage of
 * weight 2 is served twice as often as one of weight 1, interleaved rather than in bursts.
 */
export function fairStage(): StageScheduler {
  let credit = new Map<string, number>();
  return {
    name: 'fair',
    pick(stages) {
      const next = new Map<string, number>(); // stages no longer waiting drop out
      let total = 0;
      let best = 0;
      stages.forEach((s, i) => {
        next.set(s.stage, (credit.get(s.stage) ?? 0) + s.weight);
        total += s.weight;
        if (next.get(s.stage)! > next.get(stages[best]!.stage)!) best = i;
      });
      const chosen = stages[best]!.stage;
      next.set(chosen, next.get(chosen)! - total);
      credit = next;
      return best;
    },
  };
}
