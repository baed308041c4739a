import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { demoCommand } from '../../cli/demo.js';
import { startTestGateway } from '../helpers/gateway.js';
import { CapturedOutput } from './helpers.js';

// `orla demo` run in-process, its output captured as a pipe (non-TTY). The embedded gateway's
// engines run at --speed 200 to keep the test short; nothing here depends on timing.

/** A port nothing listens on: one the system just handed out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function demo(args: string[]) {
  const out = new CapturedOutput(false);
  await demoCommand({ out }).exitOverride().configureOutput({ writeErr: () => {} }).parseAsync(args, { from: 'user' });
  const exitCode = process.exitCode;
  process.exitCode = undefined;
  return { text: out.text, exitCode };
}

afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

describe('orla demo', () => {
  it('runs the three sample tickets against the embedded gateway to the end, as plain lines', async () => {
    const { text, exitCode } = await demo(['--speed', '200']);
    expect(exitCode).toBe(0);
    expect(text).not.toContain('\u001b');
    expect(text).toMatch(/orla demo · customer-support · 3 tickets · embedded gateway http:\/\/127\.0\.0\.1:\d+/);
    expect(text).toContain('classify → light (Qwen/Qwen3-4B)');
    for (const id of ['double-charge', 'account-compromise', 'nonprofit-question']) expect(text).toMatch(new RegExp(`${id} +run support-\\d-\\w+ started`));
    expect(text).toMatch(/account-compromise +classify +done in [\d.]+m?s: account · .* · escalate: /);
    expect(text).toMatch(/double-charge +reply +started · prio 8 · cache flush/);
    expect(text).toMatch(/account-compromise +route_ticket +↳ send_ticket \{"team":"trust_and_safety","priority":10/);
    expect(text).toContain('3 runs (3 done)');
    expect(text).toMatch(/T-100\d → trust_and_safety · priority 10 · account-compromise/);
  });

  it('runs a ticket from a file as many times as --tickets asks, classified by the model', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'orla-demo-')), 'ticket.txt');
    writeFileSync(file, 'My parcel with the hardware key never arrived.\n');
    const { text, exitCode } = await demo(['--ticket', file, '--tickets', '2', '--speed', '200']);
    expect(exitCode).toBe(0);
    expect(text).toContain('2 tickets');
    expect(text).toMatch(/ticket#2 +run support-2-/);
    expect(text).not.toContain('[[sim:answer');
    expect(text).toContain('2 runs (2 done)');
  });

  it('runs against a given gateway', async () => {
    const stage = { backend: 'sim', model: 'sim-instant' };
    const gateway = await startTestGateway({ backends: { sim: { engine: 'simulator', profile: 'instant' } }, stages: { default: stage } });
    try {
      const { text, exitCode } = await demo(['--gateway', `${gateway.url}/v1/`, '--ticket', 'Is there a student discount?']);
      expect(exitCode).toBe(0);
      expect(text).toContain(`1 ticket · gateway ${gateway.url}\n`);
      expect(text).toContain('1 run (1 done)');
    } finally {
      await gateway.close();
    }
  });

  it('says so when the gateway cannot be reached', async () => {
    const closed = await closedPort();
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const { exitCode, text } = await demo(['--gateway', `http://127.0.0.1:${closed}`, '--tickets', '1']);
    expect(exitCode).toBe(1);
    expect(stderr).toHaveBeenCalledWith(expect.stringContaining(`cannot reach the gateway at http://127.0.0.1:${closed} (ECONNREFUSED)`));
    expect(text).toBe('');
  });

  it('rejects a count that is not a positive integer', async () => {
    await expect(demo(['--tickets', '0'])).rejects.toThrow(/positive integer/);
  });
});
