// npm run bench:tenants — how tenants share a saturated backend. Two clients keep a simulated
// engine (qwen3-8b-h100, 2 slots) busy: "acme" with 12 requests always outstanding, "globex" with
// 4. Each of the first REQUESTS answers is counted by its tenant, under three configs:
//   shared key   no tenants: slots go by arrival, so by demand (≈ 12 : 4)
//   weights 1:1  two tenants: equal shares whatever their demand
//   weights 1:3  globex weighs 3: it gets three slots for acme's one, with a third of acme's demand
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCompiled } from './processes.js';

const REQUESTS = Number(process.env.REQUESTS ?? 300);
const DEMAND = { acme: 12, globex: 4 };
const KEYS = { acme: 'sk-bench-acme', globex: 'sk-bench-globex' };
const body = JSON.stringify({ messages: [{ role: 'user', content: 'Draft a reply to the customer.' }], max_tokens: 8, ignore_eos: true });

const CONFIGS = [
  { name: 'one shared key, no tenants', expected: 'by demand (12 : 4)', yaml: `server: { log_level: warn, api_keys: [${KEYS.acme}, ${KEYS.globex}] }` },
  { name: 'weights 1:1', expected: '1 : 1', yaml: tenants(1, 1) },
  { name: 'weights 1:3', expected: '1 : 3', yaml: tenants(1, 3) },
];

function tenants(acme: number, globex: number): string {
  return `server: { log_level: warn }\ntenants:\n  acme: { keys: [${KEYS.acme}], weight: ${acme} }\n  globex: { keys: [${KEYS.globex}], weight: ${globex} }`;
}

/** Keeps `outstanding` requests of one client in flight until `answered` reaches REQUESTS. */
async function client(url: string, key: string, outstanding: number, count: () => boolean): Promise<void> {
  const worker = async () => {
    for (;;) {
      const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`status ${res.status}: ${text}`);
      if (!count()) return;
    }
  };
  await Promise.all(Array.from({ length: outstanding }, worker));
}

const dir = mkdtempSync(join(tmpdir(), 'orla-bench-tenants-'));
const sim = await startCompiled('cli/main.ts', ['sim', '--profile', 'qwen3-8b-h100', '--port', '0'], 'simulator');
const rows: string[] = [];
try {
  for (const config of CONFIGS) {
    const file = join(dir, `${config.name.replace(/\W+/g, '-')}.yaml`);
    writeFileSync(file, `${config.yaml}\nbackends:\n  sim: { engine: simulator, urls: [${sim.url}], max_concurrency: 2 }\nstages:\n  default: { backend: sim, model: Qwen/Qwen3-8B }\n`);
    const orla = await startCompiled('cli/main.ts', ['serve', '--config', file, '--port', '0'], 'orla');
    try {
      const served = { acme: 0, globex: 0 };
      let answered = 0;
      const count = (tenant: keyof typeof served) => () => {
        if (answered >= REQUESTS) return false;
        answered++;
        served[tenant]++;
        return answered < REQUESTS;
      };
      await Promise.all([client(orla.url, KEYS.acme, DEMAND.acme, count('acme')), client(orla.url, KEYS.globex, DEMAND.globex, count('globex'))]);
      const share = (n: number) => `${((100 * n) / REQUESTS).toFixed(1)}%`;
      rows.push(`| ${config.name} | ${config.expected} | ${share(served.acme)} | ${share(served.globex)} |`);
      console.error(rows.at(-1));
    } finally {
      await orla.stop();
    }
  }
} finally {
  await sim.stop();
}
console.log(`\nFirst ${REQUESTS} answers of a 2-slot backend, acme keeping ${DEMAND.acme} requests outstanding and globex ${DEMAND.globex}:\n`);
console.log('| config | expected acme : globex | acme | globex |\n| --- | --- | --- | --- |');
console.log(rows.join('\n'));
