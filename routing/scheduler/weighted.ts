/**
 * Smooth weighted round robin (as nginx balances): each pick, every candidate earns its weight; the
 * richest is chosen and pays the total. One of weight 2 is chosen twice as often as one of weight 1,
 * interleaved rather than in bursts. Candidates no longer offered drop their credit.
 */
export class SmoothWeighted {
  private credit = new Map<string, number>();

  /** The index of the candidate chosen; ties go to the first. */
  pick(candidates: readonly { key: string; weight: number }[]): number {
    const next = new Map<string, number>();
    let total = 0;
    let best = 0;
    candidates.forEach((c, i) => {
      next.set(c.key, (this.credit.get(c.key) ?? 0) + c.weight);
      total += c.weight;
      if (next.get(c.key)! > next.get(candidates[best]!.key)!) best = i;
    });
    const chosen = candidates[best]!.key;
    next.set(chosen, next.get(chosen)! - total);
    this.credit = next;
    return best;
  }
}
