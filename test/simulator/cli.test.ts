import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { simCommand } from '../../cli/sim.js';
import { within } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function firstLine(child: ReturnType<typeof spawn>): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
}

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

  it('imitates the engine --engine names, with that engine\'s flags', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'sim', '--port', '0', '--profile', 'instant', '--engine', 'llamacpp', '--parallel', '2', '--metrics'], { cwd: ROOT });
    try {
      const line = await firstLine(child);
      expect(line).toContain('engine llamacpp');
      const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(line)![1]!;
      expect((await (await fetch(`${url}/slots`)).json()).map((slot: { id: number }) => slot.id)).toEqual([0, 1]);
      expect((await fetch(`${url}/metrics`)).status).toBe(200);
      expect(await (await fetch(`${url}/nope`)).json()).toEqual({ error: { code: 404, message: 'File Not Found', type: 'not_found_error' } });
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('refuses a flag that belongs to another engine, naming it, with exit code 2', async () => {
    let stderr = '';
    const command = simCommand().exitOverride().configureOutput({ writeErr: (text) => (stderr += text) });
    const error = await command.parseAsync(['--engine', 'vllm', '--parallel', '2'], { from: 'user' }).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(CommanderError);
    expect((error as CommanderError).exitCode).toBe(2);
    expect(stderr).toContain('--parallel is a llamacpp flag; this simulator runs --engine vllm');
  });

  it('lists every engine flag in --help', () => {
    const help = simCommand().helpInformation();
    for (const flag of ['--engine', '--enable-prompt-tokens-details', '--dev-mode', '--scheduling-policy', '--api-key', '--admin-api-key', '--enable-cache-report', '--enable-metrics', '--enable-priority-scheduling', '--schedule-low-priority-values-first', '--abort-on-priority-when-disabled', '--parallel', '--slot-save-path', '--metrics', '--slot-prompt-similarity']) {
      expect(help).toContain(flag);
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
