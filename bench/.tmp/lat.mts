import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { runLoad } from '../load.js';
import { startCompiled, cpuMs } from '../processes.js';
const sim = await startCompiled('cli/main.ts', ['sim', '--profile', 'instant', '--port', '0'], 'sim');
const config = join(mkdtempSync(join(tmpdir(), 'p-')), 'orla.yaml');
writeFileSync(config, `server: { log_level: warn }\nbackends:\n  sim: { engine: simulator, urls: [${sim.url}] }\nstages:\n  default: { backend: sim }\n`);
const body = JSON.stringify({ model: 'sim-instant', messages: [{ role: 'user', content: 'Summarise the ticket: my card was charged twice for one order.' }], max_tokens: 16 });
for (const [name, main, port] of [['A', '/work/main/.ab/a605dcf/.bench-out/cli/main.js', 18101], ['B', '/work/main/.bench-out/cli/main.js', 18102]] as const) {
  const child = spawn(process.execPath, [main, 'serve', '--config', config, '--port', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((r) => child.stdout!.once('data', r));
  const url = `http://127.0.0.1:${port}/v1/chat/completions`;
  await runLoad(url, body, 4, 2000);
  for (const c of [1, 50]) {
    const cpu0 = cpuMs(child.pid!);
    const r = await runLoad(url, body, c, 3000);
    const cpu = cpuMs(child.pid!) - cpu0;
    const lat = r.latenciesMs.sort((a, b) => a - b);
    console.log(name, `c=${c}`, 'rps', (r.requests / r.seconds).toFixed(0), 'p50 ms', lat[lat.length >> 1]!.toFixed(3), 'cpu µs/req', (cpu * 1000 / r.requests).toFixed(0));
  }
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}
await sim.stop();
