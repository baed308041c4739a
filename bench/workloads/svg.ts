// A hand-written SVG of empirical CDFs (no plotting dependency): one step line per series, a log or
// linear x axis, grid, ticks, legend, and dashed markers at each series' p50.

export interface Series {
  label: string;
  values: number[];
  color: string;
}

export interface CdfOptions {
  title: string;
  xLabel: string;
  log?: boolean;
  width?: number;
  height?: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceTicks(min: number, max: number, log: boolean): number[] {
  if (log) {
    const ticks: number[] = [];
    for (let decade = 10 ** Math.floor(Math.log10(min)); decade <= max * 10; decade *= 10) {
      for (const m of [1, 2, 3, 5]) {
        const t = m * decade;
        if (t >= min && t <= max) ticks.push(t);
      }
    }
    return ticks;
  }
  const span = max - min;
  const step = 10 ** Math.floor(Math.log10(span / 5));
  const unit = [1, 2, 5, 10].map((m) => m * step).find((u) => span / u <= 8)!;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / unit) * unit; t <= max; t += unit) ticks.push(Number(t.toPrecision(6)));
  return ticks;
}

export function cdfSvg(series: Series[], options: CdfOptions): string {
  const width = options.width ?? 760;
  const height = options.height ?? 440;
  const log = options.log ?? false;
  const margin = { left: 64, right: 24, top: 44, bottom: 56 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const all = series.flatMap((s) => s.values).filter((v) => Number.isFinite(v) && (!log || v > 0));
  let min = Math.min(...all);
  let max = Math.max(...all);
  if (log) {
    min *= 0.85; // a little room on both sides
    max *= 1.15;
  } else {
    min = 0;
    max *= 1.05;
  }
  const fx = (v: number) => margin.left + (log ? (Math.log(v / min) / Math.log(max / min)) * plotW : ((v - min) / (max - min)) * plotW);
  const fy = (p: number) => margin.top + (1 - p) * plotH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(options.title)}</text>`);
  // Grid and ticks.
  for (const t of niceTicks(min, max, log)) {
    const x = fx(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${margin.top}" x2="${x}" y2="${margin.top + plotH}" stroke="#e3e3e3"/>`);
    out.push(`<text x="${x}" y="${margin.top + plotH + 18}" text-anchor="middle">${t}</text>`);
  }
  for (let p = 0; p <= 1.0001; p += 0.1) {
    const y = fy(p).toFixed(1);
    out.push(`<line x1="${margin.left}" y1="${y}" x2="${margin.left + plotW}" y2="${y}" stroke="#e3e3e3"/>`);
    out.push(`<text x="${margin.left - 8}" y="${(fy(p) + 4).toFixed(1)}" text-anchor="end">${p.toFixed(1)}</text>`);
  }
  out.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#444"/>`);
  out.push(`<text x="${margin.left + plotW / 2}" y="${height - 14}" text-anchor="middle">${esc(options.xLabel)}${log ? ' (log scale)' : ''}</text>`);
  out.push(`<text transform="translate(18 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">fraction of requests ≤ x</text>`);
  // One step line per series, with a dashed p50 marker.
  for (const s of series) {
    const sorted = s.values.filter((v) => Number.isFinite(v) && (!log || v > 0)).sort((a, b) => a - b);
    if (sorted.length === 0) continue;
    const n = sorted.length;
    let d = `M${fx(sorted[0]!).toFixed(1)},${fy(0).toFixed(1)}`;
    sorted.forEach((v, i) => {
      const x = fx(v).toFixed(1);
      d += ` L${x},${fy(i / n).toFixed(1)} L${x},${fy((i + 1) / n).toFixed(1)}`;
    });
    d += ` L${(margin.left + plotW).toFixed(1)},${fy(1).toFixed(1)}`;
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    const p50 = sorted[Math.min(n - 1, Math.floor(0.5 * n))]!;
    out.push(`<line x1="${fx(p50).toFixed(1)}" y1="${fy(0.5).toFixed(1)}" x2="${fx(p50).toFixed(1)}" y2="${fy(0).toFixed(1)}" stroke="${s.color}" stroke-dasharray="4 3"/>`);
  }
  // Legend, bottom right.
  series.forEach((s, i) => {
    const y = margin.top + plotH - 16 - (series.length - 1 - i) * 20;
    const x = margin.left + plotW - 250;
    out.push(`<line x1="${x}" y1="${y}" x2="${x + 28}" y2="${y}" stroke="${s.color}" stroke-width="3"/>`);
    out.push(`<text x="${x + 36}" y="${y + 4}">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
