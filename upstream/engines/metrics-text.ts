/**
 * A Prometheus gauge in exposition text: the largest of its samples (any labels) under the first of
 * `names` present, or undefined. Engines label it per engine or per rank (vLLM's `engine`, SGLang's
 * tp/dp ranks): memory runs short on the fullest one.
 */
export function gaugeValue(text: string, names: readonly string[]): number | undefined {
  for (const name of names) {
    const pattern = new RegExp(`^${name.replace(/[.:]/g, '\\$&')}(?:\\{[^}]*\\})?\\s+([0-9.eE+-]+)\\s*$`, 'gm');
    let largest: number | undefined;
    for (const match of text.matchAll(pattern)) {
      const value = Number(match[1]);
      if (Number.isFinite(value) && (largest === undefined || value > largest)) largest = value;
    }
    if (largest !== undefined) return largest;
  }
  return undefined;
}
