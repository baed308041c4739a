import { MemoryRunStore } from '../../sessions/memory-store.js';
import { beginOps, endOps, Runs } from '../../sessions/runs.js';
import { identify } from '../../sessions/identity.js';
import { planCall } from '../../memory/plan.js';
import { endOps as memEnd } from '../../memory/call-end.js';
import { flushPerWorkflow } from '../../memory/policies/flush-per-workflow.js';
const store = new MemoryRunStore({ maxRuns: 10000, idleTtlMs: 600000, onExpired() {} });
const runs = new Runs(store);
const body = { model: 'x', messages: [{ role: 'user', content: 'Summarise the ticket: my card was charged twice for one order.' }] };
const hints = new Map();
async function once() {
  const identity = identify({}, structuredClone(body));
  const now = Date.now();
  const a = await runs.begin({ ...identity, run: identity.run! }, [...beginOps(identity, 'm', now), { op: 'incrIn', field: 'inFlightOn', key: 'sim', by: 1 }], now);
  const plan = planCall({ run: a, backend: 'sim', stage: 'default', configuredStage: 'default', cache: undefined, workflowDone: false }, flushPerWorkflow, hints, true);
  const m = memEnd(plan, { replica: 'http://r', tokens: 30, toolCalls: false }, 'preserve', now);
  await runs.end(a, [...m.ops, ...endOps({ now, backend: 'sim', stage: 'default', served: { replica: 'http://r', promptTokens: 20, cachedTokens: 0, completionTokens: 10, costUsd: 0, toolCalls: false }, contextBefore: plan.contextBefore, workflowDone: false })]);
}
for (let i = 0; i < 20000; i++) await once();
const t = performance.now(); const N = 100000;
for (let i = 0; i < N; i++) await once();
console.log(((performance.now() - t) * 1000 / N).toFixed(2), 'µs per request (identify + begin + plan + end)');
