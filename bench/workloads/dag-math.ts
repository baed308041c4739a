// DAG-MATH-shaped workflows, generated deterministically from a seed. Each problem is a DAG of
// reasoning steps; each step is one call (one stage) whose prompt is the problem, then the results of
// the steps it depends on, then the step itself: by default as a conversation of the step's ancestors
// (chat), or as one user message listing the dependencies' results (flat). Problems are long (a
// statement with its givens, lemmas and notation: 1–3k tokens by the simulator's tokenizer): the
// problem, and in the chat form the earlier turns, are what prefix caching can save after the first step.
import { tokenIds } from '../../simulator/tokens.js';
import { Random } from './random.js';

export interface Step {
  /** s1, s2, …: also the stage name. */
  id: string;
  after: string[];
  text: string;
}

export interface Problem {
  id: string;
  shape: ShapeName;
  statement: string;
  statementTokens: number;
  steps: Step[];
}

export type ShapeName = 'chain' | 'diamond' | 'wide-diamond' | 'fan-in' | 'long';

/** The DAGs: each step's dependencies. One sink each (the run's last call). */
export const SHAPES: Record<Exclude<ShapeName, 'long'>, Record<string, string[]>> = {
  chain: { s1: [], s2: ['s1'], s3: ['s2'], s4: ['s3'], s5: ['s4'] },
  diamond: { s1: [], s2: ['s1'], s3: ['s1'], s4: ['s2', 's3'] },
  'wide-diamond': { s1: [], s2: ['s1'], s3: ['s1'], s4: ['s1'], s5: ['s2', 's3', 's4'] },
  'fan-in': { s1: [], s2: [], s3: [], s4: ['s1', 's2', 's3'] },
};

export const SYSTEM_PROMPT = 'You are a careful mathematician. Carry out exactly the step you are given, show the work, and state the result.';

const OBJECTS = ['integer', 'polynomial', 'sequence', 'triangle', 'circle', 'matrix', 'function', 'graph', 'set', 'prime', 'vector', 'series', 'lattice point', 'chord', 'divisor', 'root', 'coefficient', 'tangent', 'permutation', 'residue'];
const NAMES = ['a', 'b', 'c', 'n', 'm', 'k', 'p', 'q', 'x', 'y', 'z', 'f', 'g', 'S', 'T', 'P', 'Q', 'ABC', 'XYZ', 'N'];
const RELATIONS = ['divides', 'exceeds', 'is congruent to', 'is tangent to', 'is orthogonal to', 'is bounded by', 'equals', 'is coprime to', 'is a multiple of', 'is symmetric to'];
const CONNECTIVES = ['Moreover', 'Suppose further that', 'It is known that', 'Assume', 'In addition', 'Recall that', 'Note that', 'By hypothesis', 'Given that', 'Observe that'];
const QUANTITIES = ['the sum of its digits', 'its smallest prime factor', 'the area of the region', 'the number of such pairs', 'the product of the roots', 'the length of the chord', 'the largest eigenvalue', 'the remainder modulo 1000', 'the expected value', 'the perimeter'];
const VERBS = ['Compute', 'Determine', 'Bound', 'Simplify', 'Verify', 'Express', 'Derive', 'Evaluate', 'Establish', 'Estimate'];
const METHODS = ['by induction on n', 'using the triangle inequality', 'by comparing coefficients', 'with the Chinese remainder theorem', 'by a parity argument', 'using Vieta\'s formulas', 'by the pigeonhole principle', 'by telescoping the sum', 'with a change of variables', 'using the power of a point'];

function clause(r: Random): string {
  const num = () => String(r.int(2, 997));
  switch (r.int(0, 4)) {
    case 0: return `${r.pick(CONNECTIVES)} the ${r.pick(OBJECTS)} ${r.pick(NAMES)} ${r.pick(RELATIONS)} ${num()} for every ${r.pick(OBJECTS)} ${r.pick(NAMES)} below ${num()}.`;
    case 1: return `${r.pick(CONNECTIVES)} ${r.pick(NAMES)}(${num()}) = ${num()}, and ${r.pick(NAMES)} + ${r.pick(NAMES)} = ${num()}.`;
    case 2: return `Let ${r.pick(NAMES)} denote ${r.pick(QUANTITIES)} of the ${r.pick(OBJECTS)} ${r.pick(NAMES)}, where ${r.pick(NAMES)} ${r.pick(RELATIONS)} ${num()}.`;
    case 3: return `${r.pick(CONNECTIVES)} the ${r.pick(OBJECTS)} ${r.pick(NAMES)} ${r.pick(RELATIONS)} the ${r.pick(OBJECTS)} ${r.pick(NAMES)} whenever ${r.pick(NAMES)} is at most ${num()}.`;
    default: return `Lemma ${num()}: ${r.pick(QUANTITIES)} of ${r.pick(NAMES)} ${r.pick(RELATIONS)} ${r.pick(QUANTITIES)} of ${r.pick(NAMES)}.`;
  }
}

/** A problem statement of about `tokens` tokens (the simulator's tokenizer), opening with its id. */
function statement(r: Random, id: string, tokens: number): { text: string; tokens: number } {
  const sentences = [`Problem ${id}.`];
  let count = tokenIds(sentences[0]!).length;
  while (count < tokens) {
    const s = clause(r);
    sentences.push(s);
    count += tokenIds(` ${s}`).length;
  }
  sentences.push(`${r.pick(VERBS)} ${r.pick(QUANTITIES)} of ${r.pick(NAMES)}.`);
  const text = sentences.join(' ');
  return { text, tokens: tokenIds(text).length };
}

function stepText(r: Random, step: string, after: string[]): string {
  const uses = after.length === 0 ? 'From the statement alone' : `Using the result${after.length > 1 ? 's' : ''} of ${after.map((a) => `step ${a.slice(1)}`).join(' and ')}`;
  return `${uses}, ${r.pick(VERBS).toLowerCase()} ${r.pick(QUANTITIES)} of ${r.pick(NAMES)} ${r.pick(METHODS)}. ${clause(r)} Label this result as step ${step.slice(1)}.`;
}

/**
 * A DAG the way DAG-MATH writes a solution: 8–16 atomic steps in order, each depending on earlier
 * ones only; the first step (sometimes the second too) a fact from the statement; most steps build
 * on the one before, some on an earlier one (a branch), some on two or three (a merge); and every
 * step but the last is used by a later one, so the last step merges whatever is still open. Drawn
 * after the dataset's format (`direct_dependent_steps`) and its published 21-step example (one root,
 * merges of in-degree 2 and 4); the dataset's own size statistics were not at hand.
 */
function longDag(r: Random): Record<string, string[]> {
  const n = r.int(8, 16);
  const roots = r.float() < 0.25 ? 2 : 1;
  const dag: Record<string, number[]> = {};
  for (let i = 1; i <= n; i++) {
    if (i <= roots) {
      dag[i] = [];
      continue;
    }
    const deps = new Set<number>([r.float() < 0.65 || i === 2 ? i - 1 : r.int(Math.max(1, i - 4), i - 2)]);
    const extra = r.float() < 0.1 ? 2 : r.float() < 0.25 ? 1 : 0;
    for (let k = 0; k < extra && deps.size < i - 1; k++) deps.add(r.int(1, i - 1));
    dag[i] = [...deps];
  }
  const used = new Set(Object.values(dag).flat());
  for (let i = 1; i < n; i++) if (!used.has(i)) dag[n]!.push(i);
  return Object.fromEntries(Object.entries(dag).map(([i, deps]) => [`s${i}`, deps.sort((a, b) => a - b).map((d) => `s${d}`)]));
}

export type DagSource = 'shapes' | 'long';
export const DAG_SOURCES: readonly DagSource[] = ['shapes', 'long'];

export interface WorkloadOptions {
  seed: number;
  problems: number;
  minTokens: number;
  maxTokens: number;
  /** shapes: the four small DAGs in turn; long: a DAG-MATH-like solution of 8–16 steps each. */
  dags?: DagSource;
}

/** `problems` problems, shapes in turn (so each shape gets its share), lengths uniform in [min, max]. */
export function buildProblems(options: WorkloadOptions): Problem[] {
  const r = new Random(options.seed);
  const shapes = Object.keys(SHAPES) as ShapeName[];
  return Array.from({ length: options.problems }, (_, i) => {
    const shape: ShapeName = options.dags === 'long' ? 'long' : shapes[i % shapes.length]!;
    const id = `${options.seed}-${i + 1}`;
    const { text, tokens } = statement(r, id, r.int(options.minTokens, options.maxTokens));
    const dag = shape === 'long' ? longDag(r) : SHAPES[shape];
    const steps = Object.entries(dag).map(([step, after]) => ({ id: step, after, text: stepText(r, step, after) }));
    return { id, shape, statement: text, statementTokens: tokens, steps };
  });
}

export type PromptForm = 'chat' | 'flat';
export const PROMPT_FORMS: readonly PromptForm[] = ['chat', 'flat'];

export type ChatMessage = { role: 'system' | 'user' | 'assistant'; content: string };

/** The step's prompt: the problem, then the results of the steps it depends on, then the step. */
export function stepMessages(problem: Problem, step: Step, results: ReadonlyMap<string, string>, form: PromptForm = 'chat'): ChatMessage[] {
  return form === 'chat' ? chatMessages(problem, step, results) : flatMessages(problem, step, results);
}

const problemText = (problem: Problem) => `Problem statement:\n${problem.statement}\n\n`;
const stepLine = (step: Step) => `Step ${step.id.slice(1)}: ${step.text}`;

/** One user turn: the problem, the dependencies' results as a list, the step. */
function flatMessages(problem: Problem, step: Step, results: ReadonlyMap<string, string>): ChatMessage[] {
  let content = problemText(problem);
  if (step.after.length > 0) {
    content += 'Results of earlier steps:\n';
    for (const dep of step.after) content += `[step ${dep.slice(1)}] ${results.get(dep) ?? ''}\n`;
    content += '\n';
  }
  content += stepLine(step);
  return [
    { role: 'system', content: SYSTEM_PROMPT },
    { role: 'user', content },
  ];
}

/**
 * A conversation, as agents send it: the ancestors' turns (step as user, result as assistant) in
 * transcriptOrder, the problem in the first user turn, then the step. A step's prompt starts with
 * its primary dependency's whole call (prompt and result), so the engine has most of it cached.
 */
function chatMessages(problem: Problem, step: Step, results: ReadonlyMap<string, string>): ChatMessage[] {
  const messages: ChatMessage[] = [{ role: 'system', content: SYSTEM_PROMPT }];
  const turn = (s: Step) => (messages.length === 1 ? problemText(problem) : '') + stepLine(s);
  for (const ancestor of transcriptOrder(problem, step)) {
    messages.push({ role: 'user', content: turn(ancestor) }, { role: 'assistant', content: results.get(ancestor.id) ?? '' });
  }
  messages.push({ role: 'user', content: turn(step) });
  return messages;
}

/**
 * Every ancestor of the step (its transitive dependencies), in an order the runs respect: the
 * primary dependency's own transcript and the primary itself first, then the other ancestors in
 * declaration order (which is topological). The primary is the dependency with the longest
 * transcript (ties: the first listed), so the prompt extends the largest previous call.
 */
export function transcriptOrder(problem: Problem, step: Step): Step[] {
  if (step.after.length === 0) return [];
  const byId = new Map(problem.steps.map((s) => [s.id, s]));
  const get = (id: string) => {
    const found = byId.get(id);
    if (!found) throw new Error(`problem ${problem.id}: unknown step ${id}`);
    return found;
  };
  let primary: Step[] = [];
  for (const dep of step.after.map(get)) {
    const candidate = [...transcriptOrder(problem, dep), dep];
    if (candidate.length > primary.length) primary = candidate;
  }
  const included = new Set(primary);
  const ancestors = new Set<Step>();
  const collect = (s: Step): void => {
    for (const dep of s.after.map(get)) {
      if (!ancestors.has(dep)) {
        ancestors.add(dep);
        collect(dep);
      }
    }
  };
  collect(step);
  return [...primary, ...problem.steps.filter((s) => ancestors.has(s) && !included.has(s))];
}

export type StepKind = 'first' | 'chain' | 'parallel' | 'merge';

/**
 * first: no dependency; chain: one dependency that no other step shares; parallel: one dependency
 * shared with sibling steps (they are sent together); merge: two or more dependencies.
 */
export function stepKind(problem: Problem, step: Step): StepKind {
  if (step.after.length === 0) return 'first';
  if (step.after.length > 1) return 'merge';
  const siblings = problem.steps.filter((s) => s !== step && s.after.length === 1 && s.after[0] === step.after[0]);
  return siblings.length > 0 ? 'parallel' : 'chain';
}

/** The sink: the one step nothing depends on (the run's last call). */
export function sinkOf(problem: Problem): Step {
  const needed = new Set(problem.steps.flatMap((s) => s.after));
  const sinks = problem.steps.filter((s) => !needed.has(s.id));
  if (sinks.length !== 1) throw new Error(`problem ${problem.id}: ${sinks.length} sinks`);
  return sinks[0]!;
}
