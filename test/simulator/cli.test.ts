import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { within } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('orla sim', () => {
  it('prints its URL, serves the chosen profile and model names, and exits cleanly on SIGTERM', async () => {
    const args = ['--import', 'tsx', 'cli/main.ts', 'sim', '--port', '0', '--profile', 'instant', '--model', 'a', 'b', '--kv-tokens', '32000'];
    const child = spawn(process.execPath, args, { cwd: ROOT });
    try {
      const line = await within(new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(out.split('\n')[0]!);
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
      }), 'orla sim to print its URL');
      const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(line)![1]!;
      expect(line).toContain('instant');
      const models = await (await fetch(`${url}/v1/models`)).json();
      expect(models.data.map((m: { id: string }) => m.id)).toEqual(['a', 'b']);
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await within(exited, 'orla sim to exit on SIGTERM')).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('refuses an unknown profile', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'sim', '--profile', 'h200'], { cwd: ROOT });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await within(new Promise<number | null>((resolve) => child.once('exit', resolve)), 'orla sim to refuse the profile and exit');
    expect(code).not.toBe(0);
    expect(err).toContain('qwen3-8b-h100');
  });
});
