import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { Miniflare } from 'miniflare';

// The Worker for real: bundled by wrangler exactly as `wrangler deploy` bundles it (offline: a dry
// run), then run in workerd through Miniflare, with in-memory Durable Objects. Nothing calls out:
// wrangler's telemetry and error reports are off, its config home is a temporary folder, Miniflare
// gets no `cf` object to fetch and no inspector.

const ROOT = resolve(import.meta.dirname, '../..');

/** Wrangler's environment for a run that reaches nothing outside this machine. */
export function offlineEnv(home: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    WRANGLER_SEND_METRICS: 'false',
    WRANGLER_SEND_ERROR_REPORTS: 'false',
    WRANGLER_HIDE_BANNER: 'true',
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    XDG_CONFIG_HOME: join(home, 'config'),
    WRANGLER_LOG_PATH: join(home, 'logs'),
  };
}

export interface Bundle {
  dir: string;
  script: string;
  /** esbuild's account of what went into the bundle. */
  metafile: string;
  /** What wrangler.toml says the runtime is: the test runs the Worker as deployed. */
  compatibilityDate: string;
  compatibilityFlags: string[];
  /** Durable Object binding → class. */
  durableObjects: Record<string, string>;
  remove(): Promise<void>;
}

/** The few wrangler.toml settings the test's workerd needs, read from the file deploy reads. */
function deployed(toml: string): Pick<Bundle, 'compatibilityDate' | 'compatibilityFlags' | 'durableObjects'> {
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  const flags = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1] ?? '';
  const durableObjects: Record<string, string> = {};
  for (const block of toml.split('[[durable_objects.bindings]]').slice(1)) {
    const name = /^name\s*=\s*"([^"]+)"/m.exec(block)?.[1];
    const className = /^class_name\s*=\s*"([^"]+)"/m.exec(block)?.[1];
    if (name && className) durableObjects[name] = className;
  }
  if (!date) throw new Error('wrangler.toml has no compatibility_date');
  return { compatibilityDate: date, compatibilityFlags: [...flags.matchAll(/"([^"]+)"/g)].map((m) => m[1]!), durableObjects };
}

/** `wrangler deploy --dry-run --outdir`: the Worker as it would be uploaded. */
export async function bundleWorker(): Promise<Bundle> {
  const dir = await mkdtemp(join(tmpdir(), 'workers-orla-'));
  const metafile = join(dir, 'meta.json');
  const args = ['deploy', '--dry-run', '--outdir', join(dir, 'out'), '--metafile', metafile, '--config', join(ROOT, 'wrangler.toml')];
  await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), ...args], { cwd: ROOT, env: offlineEnv(dir), timeout: 60_000 });
  return {
    dir,
    script: join(dir, 'out', 'worker.js'),
    metafile,
    ...deployed(await readFile(join(ROOT, 'wrangler.toml'), 'utf8')),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A Worker as Miniflare hands it to this process (its types name workerd's own). */
interface WorkerHandle {
  fetch(url: string, init?: RequestInit): Promise<Response>;
  scheduled(options: { cron: string }): Promise<unknown>;
}

export interface RunningWorker {
  url: string;
  mf: Miniflare;
  /** A second Worker (another isolate) of the same gateway, sharing its Durable Objects: `fetch` as a client would. */
  twin(url: string, init?: RequestInit): Promise<Response>;
  /** What the Worker wrote to its console (its log lines), as it came. */
  logs: string[];
  /** Runs the Worker's cron trigger once (the idle sweep). */
  scheduled(): Promise<void>;
  close(): Promise<void>;
}

/** The bundled Worker in workerd, its vars (ORLA_CONFIG) as given, on 127.0.0.1. */
export async function startWorker(bundle: Bundle, vars: Record<string, string>): Promise<RunningWorker> {
  const worker = {
    modules: [{ type: 'ESModule' as const, path: bundle.script }],
    modulesRoot: join(bundle.dir, 'out'),
    compatibilityDate: bundle.compatibilityDate,
    compatibilityFlags: bundle.compatibilityFlags,
    bindings: vars,
  };
  const objects = bundle.durableObjects;
  const logs: string[] = [];
  const mf = new Miniflare({
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      for (const stream of [stdout, stderr]) {
        let partial = '';
        stream.on('data', (chunk: Buffer) => {
          const lines = (partial + chunk.toString('utf8')).split('\n');
          partial = lines.pop()!;
          logs.push(...lines);
        });
      }
    },
    host: '127.0.0.1',
    port: 0,
    cf: false,
    workers: [
      { ...worker, name: 'orla', durableObjects: Object.fromEntries(Object.entries(objects).map(([binding, className]) => [binding, { className, useSQLite: true }])) },
      { ...worker, name: 'orla-twin', durableObjects: Object.fromEntries(Object.entries(objects).map(([binding, className]) => [binding, { className, useSQLite: true, scriptName: 'orla' }])) },
    ],
  });
  const url = (await mf.ready).origin;
  return {
    url,
    mf,
    logs,
    async twin(url, init) {
      const twin = (await mf.getWorker('orla-twin')) as unknown as WorkerHandle;
      return twin.fetch(url, init);
    },
    async scheduled() {
      const worker = (await mf.getWorker()) as unknown as WorkerHandle;
      await worker.scheduled({ cron: '* * * * *' });
    },
    close: () => mf.dispose(),
  };
}
