import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { within } from '../helpers/wait.js';

// The `orla` binary's commands, run as a user would (from the sources, through tsx).

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** How long a CLI process may take to start, answer or exit: generous, yet inside the runner's 20 s. */
const PROCESS_MS = 15_000;
const orla = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: PROCESS_MS });

const dir = mkdtempSync(join(tmpdir(), 'orla-cli-'));
const write = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};

describe('orla check', () => {
  it('prints the resolved mapping of a good config', () => {
    const file = write('good.yaml', 'backends:\n  heavy: { engine: vllm, urls: [http://10.0.0.6:8000] }\nstages:\n  reply: { backend: heavy, model: Qwen/Qwen3-8B }\n');
    const run = orla(['check', '--config', file]);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('reply → heavy · model Qwen/Qwen3-8B');
    expect(run.stdout).toContain('no default stage');
  });

  it('prints each named mapping with the stages it remaps', () => {
    const file = write(
      'variants.yaml',
      'backends:\n  light: { engine: vllm, urls: [http://10.0.0.5:8000] }\n  heavy: { engine: vllm, urls: [http://10.0.0.6:8000] }\n' +
        'stages:\n  reply: { backend: light, model: Qwen/Qwen3-4B }\nmappings:\n  all-heavy:\n    reply: { backend: heavy, model: Qwen/Qwen3-8B }\n',
    );
    const run = orla(['check', '--config', file]);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('mapping all-heavy (X-Orla-Mapping: all-heavy; other stages as above):\n  reply → heavy · model Qwen/Qwen3-8B');
  });

  it('exits non-zero naming each mistake', () => {
    const file = write('bad.yaml', 'backends:\n  heavy: { engine: vllm, urls: [http://x:1] }\nstages:\n  reply: { backend: hevy }\n');
    const run = orla(['check', '--config', file]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('stages.reply.backend: unknown backend "hevy" (known: heavy)');
    expect(run.stderr).not.toMatch(/\bat .*\.ts:\d+/); // no stack trace
  });

  it('finds what serve would reject before listening: an unknown scheduler', () => {
    const file = write('lottery.yaml', 'backends:\n  heavy: { engine: simulator, scheduler: lottery }\nstages:\n  default: { backend: heavy }\n');
    const run = orla(['check', '--config', file]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('backends.heavy.scheduler: unknown stage scheduler "lottery"');
    expect(run.stdout).not.toContain('config ok');
  });

  it('finds a module mapper whose file does not exist, relative to the config file', () => {
    const file = write('nomodule.yaml', 'backends:\n  heavy: { engine: simulator }\nmappers:\n  m: { kind: module, path: ./no-such-mapper.js }\nstages:\n  default: { backend: heavy }\n  x: { mapper: m }\n');
    const run = orla(['check', '--config', file]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('mappers.m.path: cannot load module "./no-such-mapper.js"');
    expect(run.stderr).toContain(join(dir, 'no-such-mapper.js'));
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });

  it('says so when the file is missing', () => {
    const run = orla(['check', '--config', join(dir, 'nope.yaml')]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('ENOENT');
  });
});

describe('orla serve', () => {
  it('serves the embedded default, then drains and exits on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'serve', '--port', '0'], { cwd: ROOT });
    try {
      const url = await within(
        new Promise<string>((resolve, reject) => {
          let out = '';
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            const match = /listening on (http:\/\/\S+)/.exec(out);
            if (match) resolve(match[1]!);
          });
          child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
        }),
        'orla serve to say where it listens',
        PROCESS_MS,
      );
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-orla-stage': 'classify' },
        body: JSON.stringify({ model: 'any', messages: [{ role: 'user', content: 'hello' }], max_tokens: 5 }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-orla-backend')).toBe('light');
      expect((await res.json()).model).toBe('Qwen/Qwen3-4B');
      expect((await fetch(`${url}/ready`)).status).toBe(200);
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await within(exited, 'orla serve to drain and exit on SIGTERM', PROCESS_MS)).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

/** Runs the CLI to its exit (killed after `timeoutMs`), with what it printed. */
async function runToExit(args: string[], timeoutMs = PROCESS_MS): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { cwd: ROOT });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`still running after ${timeoutMs} ms: ${stdout}${stderr}`)), timeoutMs);
      child.once('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    return { code, stdout, stderr };
  } finally {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  }
}

describe('start-up failures', () => {
  it('serve reports every config mistake at once, before it starts anything', async () => {
    const file = write(
      'several.yaml',
      'backends:\n  heavy: { engine: simulator, scheduler: lottery }\nmappers:\n  m: { kind: module, path: ./gone.js }\nstages:\n  default: { backend: heavy }\n  x: { mapper: m }\n',
    );
    const run = await runToExit(['serve', '--config', file, '--port', '0']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('backends.heavy.scheduler');
    expect(run.stderr).toContain('mappers.m.path: cannot load module "./gone.js"');
    expect(run.stdout).not.toContain('listening');
  });

  for (const command of ['serve', 'sim']) {
    it(`${command} on a port already taken says so in one line, without a stack trace, and exits`, async () => {
      const taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = taken.address() as AddressInfo;
        const run = await runToExit([command, '--host', '127.0.0.1', '--port', String(port)]);
        expect(run.code).not.toBe(0);
        expect(run.code).not.toBeNull(); // it exited by itself: nothing it started kept it alive
        expect(run.stderr.trim()).toBe(`orla: cannot listen on 127.0.0.1:${port}: address already in use (EADDRINUSE)`);
        expect(run.stderr).not.toContain('    at ');
      } finally {
        taken.close();
      }
    });
  }
});
