import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Where each tree's sources are compiled for the benchmarks' child processes. */
const OUT_DIR = '.bench-out';

export interface Started {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** CPU time (user + system) a process has used so far, in ms, from /proc (Linux). */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

const compiledTrees = new Set<string>();

/**
 * Compiles a tree (this one, or an A/B worktree) once per benchmark process, with the project's own
 * tsconfig, as `npm ci` compiles dist/ for `orla`. Engines, proxies and gateways then run as plain
 * JavaScript, the way they are deployed: through tsx's loader the same gateway spent 3-20%
 * more CPU per request, which benchmarks would have charged to Orla and to the floor alike.
 */
function compile(root: string): void {
  if (compiledTrees.has(root)) return;
  const tsc = createRequire(join(ROOT, 'package.json')).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--outDir', OUT_DIR, '--sourceMap', 'false'], { cwd: root, stdio: 'inherit' });
  compiledTrees.add(root);
}

/**
 * Runs a TypeScript entry of `root` (default: this tree) as compiled JavaScript, with Node's own
 * `nodeFlags`, and waits for the first URL it prints.
 */
export function startCompiled(entry: string, args: string[], name: string, root = ROOT, nodeFlags: readonly string[] = []): Promise<Started> {
  compile(root);
  const script = join(root, OUT_DIR, entry.replace(/\.ts$/, '.js'));
  const child = spawn(process.execPath, [...nodeFlags, script, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (data: Buffer) => {
      seen += data.toString();
      const match = /http:\/\/[\w.[\]:-]+:\d+/.exec(seen);
      if (!match) return;
      child.stdout!.off('data', onData);
      child.stdout!.resume(); // keep draining what it prints
      resolve({
        url: match[0],
        child,
        stop: () =>
          new Promise<void>((done) => {
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before listening: ${seen}`)));
  });
}

/** Node's flags in `npm start` (package.json): what a gateway started as users start it runs with. */
export function startFlags(): string[] {
  const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(/\s+/);
  return start.slice(1, start.indexOf('bin/orla.js')).filter((arg) => arg.startsWith('--'));
}
