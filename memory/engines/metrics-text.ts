/** The first sample of a Prometheus gauge in exposition text (any labels), or undefined. */
export function gaugeValue(text: string, names: readonly string[]): number | undefined {
  for (const name of names) {
    const match = new RegExp(`^${name.replace(/[.:]/g, '\\$&')}(?:\\{[^}]*\\})?\\s+([0-9.eE+-]+)\\s*$`, 'm').exec(text);
    if (match) return Number(match[1]);
  }
  return undefined;
}
