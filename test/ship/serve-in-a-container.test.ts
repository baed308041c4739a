import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// What the image relies on from the CLI: the config named by ORLA_CONFIG (a path), --config still
// winning, and a SIGTERM that ends the process within --drain-timeout even while a stream runs.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'orla-env-'));
const config = (name: string, backend: string) => {
  const file = join(dir, name);
  writeFileSync(file, `backends:\n  ${backend}: { engine: simulator, profile: instant }\nstages:\n  default: { backend: ${backend} }\n`);
  return file;
};
const cli = (args: string[], env: Record<string, string>) => ({
  args: ['--import', 'tsx', 'cli/main.ts', ...args],
  options: { cwd: ROOT, env: { ...process.env, ORLA_CONFIG: '', ...env } },
});

async function serve(args: string[], env: Record<string, string>): Promise<{ child: ChildProcessWithoutNullStreams; url: string }> {
  const { args: argv, options } = cli(['serve', '--port', '0', ...args], env);
  const child = spawn(process.execPath, argv, options);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  return { child, url };
}

const backendOf = async (url: string) => {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'any', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
  });
  await res.arrayBuffer();
  return res.headers.get('x-orla-backend');
};

describe('ORLA_CONFIG', () => {
  it('names the config serve runs with when --config is absent', async () => {
    const { child, url } = await serve([], { ORLA_CONFIG: config('env.yaml', 'from_env') });
    try {
      expect(await backendOf(url)).toBe('from_env');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('gives way to --config', async () => {
    const { child, url } = await serve(['--config', config('flag.yaml', 'from_flag')], { ORLA_CONFIG: config('env2.yaml', 'from_env') });
    try {
      expect(await backendOf(url)).toBe('from_flag');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('is what check validates, and a missing file is a config mistake, not the embedded default', () => {
    const file = config('checked.yaml', 'checked');
    const { args, options } = cli(['check'], { ORLA_CONFIG: file });
    const ok = spawnSync(process.execPath, args, { ...options, encoding: 'utf8', timeout: 30_000 });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain(`config ok: ${file}`);
    const missing = spawnSync(process.execPath, args, { ...options, env: { ...options.env, ORLA_CONFIG: join(dir, 'nope.yaml') }, encoding: 'utf8', timeout: 30_000 });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('nope.yaml');
  });
});

describe('serve --drain-timeout', () => {
  it('bounds how long a SIGTERM waits for a stream still running, and the process exits 0', async () => {
    // The embedded default's engines run in real time: 4,000 tokens (ignore_eos: no early stop) take
    // half a minute, far longer than the drain.
    const { child, url } = await serve(['--drain-timeout', '1'], {});
    try {
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'any', stream: true, max_tokens: 4000, ignore_eos: true, messages: [{ role: 'user', content: 'write at length' }] }),
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      await reader.read(); // the stream is under way
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      const signalled = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      const took = Date.now() - signalled;
      expect(took).toBeGreaterThanOrEqual(900); // the stream was waited for…
      expect(took).toBeLessThan(5_000); // …up to the drain timeout, not to its end
      await reader.cancel().catch(() => {});
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('rejects what is not a number of seconds', () => {
    const { args, options } = cli(['serve', '--drain-timeout', 'soon'], {});
    const run = spawnSync(process.execPath, args, { ...options, encoding: 'utf8', timeout: 30_000 });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('not a number of seconds: soon');
  });
});
