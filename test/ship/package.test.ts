import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The package as a user gets it: `npm pack` (which builds dist/ through `prepare`), the tarball
// installed into an empty project, then the `orla` binary and the library used from there. The pack
// runs in a copy of the repository so its build never touches this checkout's dist/. Installing
// fetches the dependencies from the npm registry (or npm's cache).

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'orla-pack-'));
const source = join(work, 'source');
const project = join(work, 'project');
const NOT_PACKED = new Set(['node_modules', 'dist', '.git', '.bench-out', '.prof', '.ab']);
let files: string[] = [];

const npm = (args: string[], cwd: string) => run('npm', args, { cwd, timeout: 150_000, maxBuffer: 16 * 1024 * 1024 });
const node = (args: string[], timeout = 30_000) => run(process.execPath, args, { cwd: project, timeout });
const bin = join(project, 'node_modules', 'orla', 'bin', 'orla.js');

beforeAll(async () => {
  cpSync(ROOT, source, { recursive: true, filter: (path) => !NOT_PACKED.has(relative(ROOT, path).split('/')[0]!) });
  symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'), 'dir');
  const { stdout } = await npm(['pack', '--json', '--pack-destination', work], source);
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  files = packed!.files.map((f) => f.path);
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await npm(['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, packed!.filename)], project);
}, 180_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('npm pack', () => {
  it('holds the build, its declarations, the binary and the data the demo reads', () => {
    for (const path of ['package.json', 'README.md', 'bin/orla.js', 'dist/index.js', 'dist/index.d.ts', 'dist/workflows/index.d.ts', 'dist/cli/main.js']) {
      expect(files).toContain(path);
    }
    expect(files).toEqual(expect.arrayContaining(['workflows/customer-support/data/policies.yaml', 'workflows/customer-support/data/teams.yaml']));
  });

  it('holds nothing else: no sources, tests, benchmarks, source maps or deployment files', () => {
    const stray = files.filter(
      (path) => !/^(package\.json|README\.md|bin\/orla\.js|dist\/.+\.(js|d\.ts)|workflows\/customer-support\/data\/[^/]+\.yaml)$/.test(path),
    );
    expect(stray).toEqual([]);
  });
});

describe('the installed package', () => {
  it('runs `npx orla --help`', async () => {
    const { stdout } = await run('npx', ['--no-install', 'orla', '--help'], { cwd: project, timeout: 30_000 });
    for (const command of ['serve', 'sim', 'check', 'demo']) expect(stdout).toContain(command);
  });

  it('runs `orla serve` with the embedded default, answers a completion and drains on SIGTERM', async () => {
    const child = spawn(process.execPath, [bin, 'serve', '--port', '0'], { cwd: project, env: { ...process.env, ORLA_CONFIG: '' } });
    try {
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
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-orla-stage': 'classify' },
        body: JSON.stringify({ model: 'any', messages: [{ role: 'user', content: 'hello' }], max_tokens: 3 }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-orla-backend')).toBe('light');
      expect(((await res.json()) as { model: string }).model).toBe('Qwen/Qwen3-4B');
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('is importable: a workflow runs against a gateway started from code', async () => {
    writeFileSync(
      join(project, 'use.mjs'),
      `import OpenAI from 'openai';
import { Workflow, startGateway, defaultConfig, loadConfig, startSimulator, ConfigError } from 'orla';
import { Workflow as LibraryWorkflow } from 'orla/workflows';
const gateway = await startGateway(defaultConfig({ port: 0 }));
const hello = new Workflow('hello', { classify: { messages: ({ input }) => [{ role: 'user', content: input }], params: { max_tokens: 4 } } });
const client = new OpenAI({ baseURL: gateway.url + '/v1', apiKey: 'unused' });
const result = await hello.run('My card was charged twice.', { client });
const sim = await startSimulator({ profile: 'instant' });
await sim.close();
await gateway.close();
console.log(JSON.stringify({
  status: result.status,
  backend: result.stages.classify.calls[0]?.backend,
  same: Workflow === LibraryWorkflow,
  loaders: [typeof loadConfig, typeof ConfigError],
}));
`,
    );
    const { stdout } = await node(['use.mjs']);
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({ status: 'done', backend: 'light', same: true, loaders: ['function', 'function'] });
  });

  it('comes with types a TypeScript project compiles against', async () => {
    writeFileSync(
      join(project, 'use.ts'),
      `import { Workflow, startGateway, loadConfig, type Config, type RunResult, type RunningGateway } from 'orla';
import type { StageSpec } from 'orla/workflows';
type Results = { classify: string };
export const flow: Workflow<string, Results> = new Workflow<string, Results>('t', { classify: { messages: ({ input }) => [{ role: 'user', content: input }] } });
export async function start(file: string): Promise<RunningGateway> {
  const config: Config = await loadConfig(file);
  return startGateway(config, { baseDir: '.' });
}
export type Done = RunResult<Results>['status'];
export type Spec = StageSpec<string, Results, 'classify'>;
`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, skipLibCheck: true, types: [] }, files: ['use.ts'] }),
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const compiled = await node([tsc, '-p', project], 60_000).catch((err: { stdout: string }) => err);
    expect('stdout' in compiled ? compiled.stdout : '').toBe('');
  });
});
