import type { ReceivedSpan } from '../test/helpers/otlp-receiver.js';

// One trace as an SVG waterfall, the way trace viewers draw it: a row per span, children indented
// under their parent in start order, a bar from its start to its end on a shared time axis.

const WIDTH = 1300;
const LABEL = 300; // the span names' column
const NOTE = 430; // what a span says about itself, right of the bars
const ROW = 24;
const TOP = 70;
const AXIS = WIDTH - LABEL - NOTE - 20;

const COLOURS = { call: '#2f5d8a', map: '#8aa9c7', identify: '#b9c8d6', queue: '#c9a227', attempt: '#d9822b', cache: '#3f8f5a', error: '#c0392b' };

function colourOf(span: ReceivedSpan): string {
  if (span.status.code === 2) return COLOURS.error;
  const word = span.name.split(' ')[0]!;
  if (word in COLOURS) return COLOURS[word as keyof typeof COLOURS];
  return span.kind === 3 ? COLOURS.attempt : COLOURS.map;
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const ms = (ns: bigint) => Number(ns) / 1e6;
const fmt = (value: number) => (value >= 100 ? value.toFixed(0) : value.toFixed(1));

/** What a span's attributes say in one line: the facts someone debugging a run looks for first. */
function noteOf(span: ReceivedSpan): string {
  const a = span.attributes;
  const parts: string[] = [];
  if (span.name.startsWith('call ')) {
    parts.push(`${a['orla.backend']} · ${a['gen_ai.request.model']}`);
    if (a['gen_ai.usage.input_tokens'] !== undefined) parts.push(`${a['gen_ai.usage.input_tokens']} in (${a['gen_ai.usage.cache_read.input_tokens']} cached) · ${a['gen_ai.usage.output_tokens']} out`);
  } else if (span.name.startsWith('queue ')) {
    parts.push(`position ${a['orla.queue.position']} · ${a['orla.queue.policy']}`);
  } else if (span.name.startsWith('cache ')) {
    parts.push(`${a['orla.cache.result']} · ${a['orla.cache.reason']}`);
  } else if (span.kind === 3 && a['orla.ttft_ms'] !== undefined) {
    parts.push(`TTFT ${fmt(Number(a['orla.ttft_ms']))} ms · ${a['orla.replica']}`);
  } else if (span.name.startsWith('map ') && a['orla.mapper'] !== undefined) {
    parts.push(`${a['orla.mapper']}${a['orla.mapper.verdict'] ? ` → ${a['orla.mapper.verdict']}` : ''}`);
  }
  return parts.join(' · ');
}

const STEPS = ['identify', 'map', 'classify', 'queue', 'cache'];
/** Where a span's step comes on the request path (the engine attempt after the rest). */
const stepOf = (span: ReceivedSpan) => {
  const at = STEPS.indexOf(span.name.split(' ')[0]!);
  return at < 0 ? STEPS.length : at;
};

/** The trace's spans in display order, each with its depth: roots by start, children under their parent. */
function ordered(spans: ReceivedSpan[]): { span: ReceivedSpan; depth: number }[] {
  // The SDK anchors each span's start to the wall clock on its own, so steps less than a
  // millisecond apart may come out of order: within 2 ms, the request path's order decides.
  const byStart = [...spans].sort((x, y) => {
    const apart = ms(x.startNs - y.startNs);
    return Math.abs(apart) < 2 ? stepOf(x) - stepOf(y) || apart : apart;
  });
  const ids = new Set(spans.map((s) => s.spanId));
  const out: { span: ReceivedSpan; depth: number }[] = [];
  const visit = (span: ReceivedSpan, depth: number) => {
    out.push({ span, depth });
    for (const child of byStart) if (child.parentSpanId === span.spanId) visit(child, depth + 1);
  };
  for (const span of byStart) if (!span.parentSpanId || !ids.has(span.parentSpanId)) visit(span, 0);
  return out;
}

export function waterfallSvg(spans: ReceivedSpan[], title: string): string {
  const rows = ordered(spans);
  const start = rows.reduce((min, r) => (r.span.startNs < min ? r.span.startNs : min), rows[0]!.span.startNs);
  const end = rows.reduce((max, r) => (r.span.endNs > max ? r.span.endNs : max), rows[0]!.span.endNs);
  const total = Math.max(ms(end - start), 1);
  const x = (ns: bigint) => LABEL + (ms(ns - start) / total) * AXIS;
  const height = TOP + rows.length * ROW + 40;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="14" font-weight="bold">${escape(title)}</text>`,
    `<text x="12" y="40" fill="#555">trace ${rows[0]!.span.traceId} · ${spans.length} spans · ${fmt(total)} ms · service ${escape(String(rows[0]!.span.resource['service.name']))}</text>`,
  ];
  // The time axis: five ticks across the run.
  for (let i = 0; i <= 4; i++) {
    const at = LABEL + (AXIS * i) / 4;
    out.push(`<line x1="${at}" y1="${TOP - 10}" x2="${at}" y2="${height - 30}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${at}" y="${TOP - 14}" fill="#777" text-anchor="middle">${fmt((total * i) / 4)} ms</text>`);
  }
  rows.forEach(({ span, depth }, i) => {
    const y = TOP + i * ROW;
    if (depth === 0) out.push(`<rect x="0" y="${y - 2}" width="${WIDTH}" height="${ROW}" fill="#f4f7fa"/>`);
    const weight = depth === 0 ? ' font-weight="bold"' : '';
    out.push(`<text x="${12 + depth * 16}" y="${y + 14}"${weight}>${escape(span.name)}</text>`);
    const left = x(span.startNs);
    const width = Math.max(x(span.endNs) - left, 1.5);
    out.push(`<rect x="${left.toFixed(1)}" y="${y + 3}" width="${width.toFixed(1)}" height="${ROW - 8}" rx="2" fill="${colourOf(span)}"><title>${escape(span.name)}: ${fmt(ms(span.endNs - span.startNs))} ms</title></rect>`);
    const ttft = span.attributes['orla.ttft_ms'];
    if (typeof ttft === 'number') {
      const at = left + (ttft / total) * AXIS;
      out.push(`<line x1="${at.toFixed(1)}" y1="${y + 1}" x2="${at.toFixed(1)}" y2="${y + ROW - 3}" stroke="#222" stroke-width="1.5"/>`);
    }
    out.push(`<text x="${WIDTH - NOTE - 10}" y="${y + 14}" fill="#333">${fmt(ms(span.endNs - span.startNs))} ms</text>`);
    out.push(`<text x="${WIDTH - NOTE + 50}" y="${y + 14}" fill="#666">${escape(noteOf(span))}</text>`);
  });
  const legend = [['call (server)', COLOURS.call], ['identify / map', COLOURS.map], ['queue wait', COLOURS.queue], ['engine attempt (client; | first token)', COLOURS.attempt], ['cache action', COLOURS.cache]] as const;
  let lx = 12;
  for (const [name, colour] of legend) {
    out.push(`<rect x="${lx}" y="${height - 22}" width="12" height="12" fill="${colour}"/><text x="${lx + 18}" y="${height - 12}" fill="#444">${escape(name)}</text>`);
    lx += 30 + name.length * 7.2;
  }
  out.push('</svg>', '');
  return out.join('\n');
}
