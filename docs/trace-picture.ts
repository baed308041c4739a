// npm run docs:trace — draws docs/trace.svg, the README's picture of one run's trace. A real run:
// two simulated engines (Qwen3-4B and Qwen3-8B profiles, in real time), the gateway with tracing on
// exporting OTLP/JSON to the test collector (test/helpers/otlp-receiver.ts), and the customer-support
// workflow's three stages as an agent sends them, streamed, the last one ending the run.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startSimulator } from '../simulator/index.js';
import { startTestGateway } from '../test/helpers/gateway.js';
import { startOtlpReceiver } from '../test/helpers/otlp-receiver.js';
import { until } from '../test/helpers/wait.js';
import { waterfallSvg } from './waterfall.js';

const light = await startSimulator({ profile: 'qwen3-4b-h100' });
const heavy = await startSimulator({ profile: 'qwen3-8b-h100' });
const collector = await startOtlpReceiver();
const gateway = await startTestGateway(
  {
    backends: { light: { engine: 'simulator', urls: [light.url] }, heavy: { engine: 'simulator', urls: [heavy.url] } },
    stages: {
      classify: { backend: 'light', model: 'Qwen/Qwen3-4B' },
      policy_check: { backend: 'heavy', model: 'Qwen/Qwen3-8B' },
      reply: { backend: 'heavy', model: 'Qwen/Qwen3-8B' },
      default: { backend: 'heavy', model: 'Qwen/Qwen3-8B' },
    },
    telemetry: { traces: { otlp_endpoint: collector.url, sample_ratio: 1 } },
  },
  undefined,
  { env: { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' } },
);

try {
  // A first request pays for compiling the gateway's code and opening connections: one of another
  // run goes first, so the picture shows a gateway as it runs.
  const warm = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-orla-workflow-run': 'warm-up', 'x-orla-stage': 'classify', 'x-orla-workflow-done': 'true' },
    body: JSON.stringify({ model: 'any', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4, stream: true }),
  });
  await warm.text();
  const run = 'ticket-4711';
  const messages: { role: string; content: string }[] = [
    { role: 'system', content: 'You are the support agent of an online shop. Follow the refund policy: refunds within 30 days of delivery, duplicate charges always refunded.' },
    { role: 'user', content: 'My card was charged twice for order 88231. Please fix it.' },
  ];
  const stages = [
    ['classify', 'Classify the ticket: billing, shipping or other.', 16],
    ['policy_check', 'Which policy applies, and what does it allow?', 48],
    ['reply', 'Draft the reply to the customer.', 96],
  ] as const;
  for (const [i, [stage, ask, maxTokens]] of stages.entries()) {
    messages.push({ role: 'user', content: ask });
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-orla-workflow-run': run, 'x-orla-stage': stage, ...(i === stages.length - 1 ? { 'x-orla-workflow-done': 'true' } : {}) },
      body: JSON.stringify({ model: 'any', messages, max_tokens: maxTokens, stream: true }),
    });
    if (res.status !== 200) throw new Error(`${stage}: status ${res.status}: ${await res.text()}`);
    const text = await res.text();
    const answer = [...text.matchAll(/"content":"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`) as string).join('');
    messages.push({ role: 'assistant', content: answer });
  }
  // The run's end releases its cache on both engines, after the last response.
  const record = async () => (await (await fetch(`${gateway.url}/v1/workflows/${run}`)).json()) as { trace_id: string; cache_actions: unknown[] };
  await until(async () => (await record()).cache_actions.length >= 2, 'the run-end releases');
  const { trace_id: traceId } = await record();
  await until(async () => {
    await gateway.traces.flush();
    return collector.spans.filter((s) => s.name.startsWith('cache ')).length >= 2;
  }, 'the spans at the collector');
  const spans = collector.spans.filter((s) => s.traceId === traceId);
  const file = fileURLToPath(new URL('trace.svg', import.meta.url));
  writeFileSync(file, waterfallSvg(spans, `Run ${run}: three stages of the customer-support workflow, as Orla's trace`));
  process.stdout.write(`${spans.length} spans of trace ${traceId} drawn in ${file}\n`);
} finally {
  await gateway.close();
  await collector.close();
  await light.close();
  await heavy.close();
}
