// bench:cache's results: per-policy statistics, the CDF (SVG, with the raw calls as JSON beside it)
// and the markdown tables printed on stdout.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { percentile } from '../load.js';
import type { PromptForm, StepKind } from '../workloads/dag-math.js';
import type { EngineCounters } from '../workloads/metrics.js';
import { cdfSvg } from '../workloads/svg.js';
import { OUTPUT_TOKENS, type Call } from './run.js';
import type { Policy, PolicyName } from './stacks.js';

export interface Measured {
  policies: Policy[];
  calls: Call[];
  /** Engine counters over the measured runs, per policy. */
  engine: Map<PolicyName, EngineCounters>;
  /** Engine seconds per run, per policy. */
  runSeconds: Map<PolicyName, number[]>;
  totalWallS: number;
}

export interface Setup {
  form: PromptForm;
  speed: number;
  seed: number;
  problems: number;
  /** "2 chain, 1 diamond, …". */
  shapes: string;
  minTokens: number;
  maxTokens: number;
}

const KINDS: StepKind[] = ['first', 'chain', 'parallel', 'merge'];
const KIND_LABELS: Record<StepKind, string> = {
  first: 'first steps (no dependency)',
  chain: 'chain steps (1 dependency, alone)',
  parallel: 'parallel steps (1 dependency, sent with siblings)',
  merge: 'merge steps (2–3 dependencies)',
};

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const cachedShare = (calls: Call[]) => sum(calls.map((c) => c.cachedTokens)) / sum(calls.map((c) => c.promptTokens));
const fmt = (ms: number) => ms.toFixed(1);
const pct = (share: number) => `${(share * 100).toFixed(1)}%`;

interface PolicyStats {
  ttft: number[];
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  rootP50: number;
  dependentP50: number;
  hitRate: number;
  engineMean: number;
  overheadP50: number;
  meanRunS: number;
  decisions: string;
  byKind: Map<StepKind, { count: number; p50: number; hitRate: number }>;
}

function policyStats(m: Measured, policy: Policy): PolicyStats {
  const mine = m.calls.filter((c) => c.policy === policy.name);
  const ttft = mine.map((c) => c.ttftMs);
  const engine = m.engine.get(policy.name)!;
  const runs = m.runSeconds.get(policy.name)!;
  const decisions = new Map<string, number>();
  for (const c of mine) {
    const key = (c.cache ?? 'none').split('; replica')[0]!;
    decisions.set(key, (decisions.get(key) ?? 0) + 1);
  }
  return {
    ttft,
    p50: percentile(ttft, 50),
    p90: percentile(ttft, 90),
    p99: percentile(ttft, 99),
    mean: sum(ttft) / ttft.length,
    rootP50: percentile(mine.filter((c) => c.root).map((c) => c.ttftMs), 50),
    dependentP50: percentile(mine.filter((c) => !c.root).map((c) => c.ttftMs), 50),
    hitRate: cachedShare(mine),
    engineMean: (engine.ttftSecondsSum / engine.requests) * 1000,
    overheadP50: percentile(mine.map((c) => c.overheadMs), 50),
    meanRunS: sum(runs) / runs.length,
    decisions: [...decisions].map(([k, v]) => `${k} ×${v}`).join(', '),
    byKind: new Map(KINDS.map((k) => {
      const ofKind = mine.filter((c) => c.kind === k);
      return [k, { count: ofKind.length, p50: percentile(ofKind.map((c) => c.ttftMs), 50), hitRate: cachedShare(ofKind) }];
    })),
  };
}

/**
 * Every policy sees the same prompts, and the simulator's output is a function of the messages, so
 * each step's text must be the same everywhere; a difference means later prompts differed.
 */
function outputMismatches(calls: Call[]): number {
  const outputs = new Map<string, string>();
  let mismatches = 0;
  for (const c of calls) {
    const key = `${c.problem}/${c.step}`;
    const seen = outputs.get(key);
    if (seen === undefined) outputs.set(key, c.outputHash);
    else if (seen !== c.outputHash) mismatches++;
  }
  return mismatches;
}

/** Writes the CDF (SVG) and the calls (JSON beside it); returns the markdown report. */
export function report(m: Measured, setup: Setup, svgPath: string, svgLabel: string): string {
  const stats = new Map(m.policies.map((p) => [p.name, policyStats(m, p)]));
  const get = (name: PolicyName) => stats.get(name)!;
  const callsPerPolicy = get('orla').ttft.length;

  mkdirSync(dirname(svgPath), { recursive: true });
  writeFileSync(
    svgPath,
    cdfSvg(
      m.policies.map((p) => ({ label: `${p.name === 'orla' ? "Orla's rules" : p.name} (p50 ${fmt(get(p.name).p50)} ms)`, values: get(p.name).ttft, color: p.color })),
      { title: `TTFT, DAG-MATH workflows (${setup.form} prompts), simulated Qwen3-8B/H100 (${callsPerPolicy} calls per policy)`, xLabel: 'time to first token, engine ms', log: true },
    ),
  );
  writeFileSync(
    svgPath.replace(/\.svg$/, '.json'),
    `${JSON.stringify({ form: setup.form, speed: setup.speed, seed: setup.seed, problems: setup.problems, calls: m.calls }, null, 0)}\n`,
  );

  const fpr = get('flush-per-request');
  const fpw = get('flush-per-workflow');
  const orla = get('orla');
  const mismatches = outputMismatches(m.calls);
  return [
    `${setup.problems} problems (${setup.shapes}; seed ${setup.seed}), statements ${setup.minTokens}–${setup.maxTokens} tokens, ${setup.form} prompts, ${callsPerPolicy} calls per policy, ` +
      `${OUTPUT_TOKENS} output tokens each, runs one after another; simulated Qwen3-8B/H100 at ${setup.speed}x, one engine per policy; times in engine time (wall ${m.totalWallS.toFixed(0)} s).`,
    '',
    '| policy | TTFT p50 ms | p90 ms | p99 ms | mean ms | first steps p50 ms | later steps p50 ms | cached / prompt tokens | engine-side mean TTFT ms | mean run s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...m.policies.map((p) => {
      const s = get(p.name);
      return `| ${p.label} | ${fmt(s.p50)} | ${fmt(s.p90)} | ${fmt(s.p99)} | ${fmt(s.mean)} | ${fmt(s.rootP50)} | ${fmt(s.dependentP50)} | ${pct(s.hitRate)} | ${fmt(s.engineMean)} | ${s.meanRunS.toFixed(2)} |`;
    }),
    '',
    `p50 TTFT, flush-per-request ÷ Orla's rules: **${(fpr.p50 / orla.p50).toFixed(2)}x** (target ≥ 3x); flush-per-request ÷ flush-per-workflow: ${(fpr.p50 / fpw.p50).toFixed(2)}x; ` +
      `engine-side mean TTFT ratio: ${(fpr.engineMean / orla.engineMean).toFixed(2)}x.`,
    '',
    'TTFT p50 by kind of step (engine ms), and the share of prompt tokens the engine had cached:',
    '',
    `| step kind | calls per policy | ${m.policies.map((p) => p.label).join(' | ')} | flush-per-request ÷ Orla | cached / prompt, flush-per-request | cached / prompt, Orla |`,
    `| --- | --- | ${m.policies.map(() => '---').join(' | ')} | --- | --- | --- |`,
    ...KINDS.map((k) => {
      const [f, o] = [fpr.byKind.get(k)!, orla.byKind.get(k)!];
      return `| ${KIND_LABELS[k]} | ${f.count} | ${m.policies.map((p) => fmt(get(p.name).byKind.get(k)!.p50)).join(' | ')} | ${(f.p50 / o.p50).toFixed(2)}x | ${pct(f.hitRate)} | ${pct(o.hitRate)} |`;
    }),
    '',
    `X-Orla-Cache decisions: ${m.policies.map((p) => `${p.name}: ${get(p.name).decisions}`).join(' · ')}.`,
    `Gateway overhead (X-Orla-Overhead-Ms, wall ms, p50): ${m.policies.map((p) => `${p.name} ${get(p.name).overheadP50.toFixed(2)}`).join(', ')}.`,
    `Outputs identical across policies: ${mismatches === 0 ? 'yes' : `no (${mismatches} differ)`}. CDF: ${svgLabel}.`,
    '',
  ].join('\n');
}
