import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { mulberry32 } from '../workloads/random.js';

// The Orla paper's first experiment, rebuilt from the real SWE-bench test set: one single-shot
// request per instance (a system prompt asking for a unified diff, the issue, and synthetic
// stand-ins for the files the gold patch touches), its difficulty and output length from the gold patch.

export interface Instance {
  instance_id: string;
  repo: string;
  problem_statement: string;
  patch: string;
}

export interface SweRequest {
  id: string;
  /** What the gold patch says: one file and few changed lines. */
  simple: boolean;
  /** What the simulated classifier will answer (`simple`, unless this is one of its errors). */
  judgedSimple: boolean;
  system: string;
  user: string;
  outputTokens: number;
}

export interface Workload {
  requests: SweRequest[];
  /** Simple: one file touched and at most this many lines changed. */
  maxSimpleLines: number;
  simpleShare: number;
}

export const SYSTEM_PROMPT =
  'You are a senior software engineer. You get a GitHub issue and the source files that are relevant to it. ' +
  'Write the patch that resolves the issue. Answer with one unified diff in git format and nothing else.';

const MAX_OUTPUT_TOKENS = 4_096;
/** Qwen3's context window: prompt and output must fit, as in any harness (it cuts 8 of the 2,294 prompts). */
const CONTEXT_TOKENS = 40_960;
const CHARS_PER_TOKEN = 3.3; // a little under what this text averages, to be safe
const MAX_FILE_BYTES = 10 * 1024;
const BYTES_PER_LINE = 36; // Python source, as in most SWE-bench repositories

export function loadInstances(file: string): Instance[] {
  return gunzipSync(readFileSync(file)).toString('utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Instance);
}

interface PatchShape {
  /** Each touched file and the last line a hunk reaches in it. */
  files: { path: string; lastLine: number }[];
  changedLines: number;
}

function shapeOf(patch: string): PatchShape {
  const files: PatchShape['files'] = [];
  let changedLines = 0;
  for (const line of patch.split('\n')) {
    const file = /^diff --git a\/(\S+)/.exec(line);
    if (file) files.push({ path: file[1]!, lastLine: 0 });
    const hunk = /^@@ -(\d+)(?:,(\d+))? /.exec(line);
    if (hunk && files.length > 0) {
      const current = files[files.length - 1]!;
      current.lastLine = Math.max(current.lastLine, Number(hunk[1]) + Number(hunk[2] ?? 1));
    }
    if ((line.startsWith('+') && !line.startsWith('+++')) || (line.startsWith('-') && !line.startsWith('---'))) changedLines++;
  }
  return { files, changedLines };
}

/**
 * The smallest line limit that makes at least `share` of the instances simple (one file, at most
 * that many changed lines), or the one just below it when that is closer.
 */
function simpleLineLimit(shapes: readonly PatchShape[], share: number): number {
  const shareAt = (limit: number) => shapes.filter((s) => s.files.length === 1 && s.changedLines <= limit).length / shapes.length;
  let limit = 1;
  while (shareAt(limit) < share) limit++;
  return limit > 1 && share - shareAt(limit - 1) < shareAt(limit) - share ? limit - 1 : limit;
}

export interface WorkloadOptions {
  seed: number;
  /** Share of requests the simulated classifier judges wrongly. */
  errorRate: number;
  simpleShare?: number;
  /** Every output as long as the mean, instead of sized from its gold patch (difficulty no longer predicts length). */
  flatOutputs?: boolean;
}

export function buildWorkload(instances: readonly Instance[], options: WorkloadOptions): Workload {
  const shapes = instances.map((i) => shapeOf(i.patch));
  const maxSimpleLines = simpleLineLimit(shapes, options.simpleShare ?? 0.42);
  const random = mulberry32(options.seed);
  const requests = instances.map((instance, n): SweRequest => {
    const shape = shapes[n]!;
    const simple = shape.files.length === 1 && shape.changedLines <= maxSimpleLines;
    const judgedSimple = random() < options.errorRate ? !simple : simple;
    const outputTokens = Math.min(MAX_OUTPUT_TOKENS, Math.max(32, Math.ceil(instance.patch.length / 4)));
    const files = shape.files.map((f) => standIn(f.path, f.lastLine, options.seed ^ n)).join('\n\n');
    // The simulator's test hook scripts the classifier's verdict; it sits first so a classifier
    // reading only the start of the request still sees it.
    const marker = `[[sim:answer {"prediction": ${judgedSimple}}]]`;
    const user = `${marker}\nRepository: ${instance.repo}\n\nIssue:\n${instance.problem_statement}\n\nRelevant files:\n\n${files}`;
    const budget = Math.floor((CONTEXT_TOKENS - outputTokens - 512) * CHARS_PER_TOKEN) - SYSTEM_PROMPT.length;
    return { id: instance.instance_id, simple, judgedSimple, system: SYSTEM_PROMPT, user: user.slice(0, budget), outputTokens };
  });
  if (options.flatOutputs) {
    const mean = Math.round(requests.reduce((sum, r) => sum + r.outputTokens, 0) / requests.length);
    for (const r of requests) r.outputTokens = mean;
  }
  shuffle(requests, mulberry32(options.seed + 1));
  return { requests, maxSimpleLines, simpleShare: requests.filter((r) => r.simple).length / requests.length };
}

/** A synthetic file as long as the real one is at least (up to its last touched line and some context), at most 10 kB. */
function standIn(path: string, lastLine: number, seed: number): string {
  const bytes = Math.min(MAX_FILE_BYTES, Math.max(1_024, (lastLine + 40) * BYTES_PER_LINE));
  const random = mulberry32(seed ^ hash(path));
  const lines = [`--- ${path} ---`];
  let size = lines[0]!.length;
  while (size < bytes) {
    const line = codeLine(random);
    lines.push(line);
    size += line.length + 1;
  }
  return lines.join('\n').slice(0, bytes);
}

const NAMES = ['value', 'result', 'config', 'items', 'node', 'parser', 'index', 'context', 'options', 'data', 'cache', 'field', 'model', 'query', 'token', 'unit'];
const CALLS = ['get', 'update', 'validate', 'resolve', 'format', 'append', 'parse', 'render', 'convert', 'compile'];

function codeLine(random: () => number): string {
  const name = () => NAMES[Math.floor(random() * NAMES.length)]!;
  const call = () => CALLS[Math.floor(random() * CALLS.length)]!;
  switch (Math.floor(random() * 6)) {
    case 0:
      return `    def ${call()}_${name()}(self, ${name()}, ${name()}=None):`;
    case 1:
      return `        ${name()} = self.${name()}.${call()}(${name()})`;
    case 2:
      return `        if ${name()} is None or not isinstance(${name()}, dict):`;
    case 3:
      return `            raise ValueError("invalid ${name()}: %r" % (${name()},))`;
    case 4:
      return `        return ${call()}(${name()}, ${name()}=${name()})`;
    default:
      return `    # ${call()} the ${name()} before the ${name()} is used`;
  }
}


function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}
