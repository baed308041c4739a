import { describe, expect, it } from 'vitest';
import {
  buildProblems,
  SHAPES,
  stepKind,
  stepMessages,
  SYSTEM_PROMPT,
  transcriptOrder,
  type Problem,
  type ShapeName,
  type Step,
} from '../../bench/workloads/dag-math.js';
import { planOutput } from '../../simulator/content.js';
import { buildOutputPlan } from '../../simulator/output.js';
import { renderChatPrompt } from '../../simulator/tokens.js';

// The bench:cache workload: what each step sends, in both prompt forms.

const problems = buildProblems({ seed: 5, problems: 4, minTokens: 200, maxTokens: 300 });
const problemOf = (shape: ShapeName): Problem => problems.find((p) => p.shape === shape)!;
const stepOf = (problem: Problem, id: string): Step => problem.steps.find((s) => s.id === id)!;
const resultsOf = (problem: Problem) => new Map(problem.steps.map((s) => [s.id, `The result of ${s.id}.`]));
const chat = (problem: Problem, id: string) => stepMessages(problem, stepOf(problem, id), resultsOf(problem));
const answer = (id: string) => ({ role: 'assistant', content: `The result of ${id}.` });
const stepTurn = (problem: Problem, id: string) => ({ role: 'user', content: `Step ${id.slice(1)}: ${stepOf(problem, id).text}` });

describe('the chat prompt form', () => {
  it('is the default', () => {
    const diamond = problemOf('diamond');
    expect(stepMessages(diamond, stepOf(diamond, 's4'), resultsOf(diamond), 'chat')).toEqual(chat(diamond, 's4'));
  });

  it('sends a step without dependency as the system prompt and one user turn: the problem, then the step', () => {
    const fanIn = problemOf('fan-in');
    for (const id of ['s1', 's2', 's3']) {
      expect(chat(fanIn, id)).toEqual([
        { role: 'system', content: SYSTEM_PROMPT },
        { role: 'user', content: `Problem statement:\n${fanIn.statement}\n\nStep ${id.slice(1)}: ${stepOf(fanIn, id).text}` },
      ]);
    }
  });

  it('extends a chain step with exactly the previous call: its messages, its result, then the step', () => {
    const chain = problemOf('chain');
    for (const [previous, id] of [['s1', 's2'], ['s2', 's3'], ['s3', 's4'], ['s4', 's5']] as const) {
      expect(chat(chain, id)).toEqual([...chat(chain, previous), answer(previous), stepTurn(chain, id)]);
    }
    // The problem is stated once, in the first user turn.
    expect(chat(chain, 's5').filter((m) => m.content.includes(chain.statement))).toHaveLength(1);
  });

  it("gives parallel siblings the same context: their dependency's call", () => {
    const wide = problemOf('wide-diamond');
    for (const id of ['s2', 's3', 's4']) expect(chat(wide, id)).toEqual([...chat(wide, 's1'), answer('s1'), stepTurn(wide, id)]);
  });

  it("extends a merge step from its first dependency's call, then adds the other results in order", () => {
    const diamond = problemOf('diamond');
    expect(chat(diamond, 's4')).toEqual([...chat(diamond, 's2'), answer('s2'), stepTurn(diamond, 's3'), answer('s3'), stepTurn(diamond, 's4')]);
    const wide = problemOf('wide-diamond');
    expect(chat(wide, 's5')).toEqual([
      ...chat(wide, 's2'), answer('s2'),
      stepTurn(wide, 's3'), answer('s3'),
      stepTurn(wide, 's4'), answer('s4'),
      stepTurn(wide, 's5'),
    ]);
    const fanIn = problemOf('fan-in');
    expect(chat(fanIn, 's4')).toEqual([...chat(fanIn, 's1'), answer('s1'), stepTurn(fanIn, 's2'), answer('s2'), stepTurn(fanIn, 's3'), answer('s3'), stepTurn(fanIn, 's4')]);
  });

  it("takes a merge step's transcript from its dependency with the most ancestors, then the rest in order", () => {
    const step = (id: string, after: string[]): Step => ({ id, after, text: id });
    const problem: Problem = {
      id: 'x', shape: 'diamond', statement: 'P', statementTokens: 1,
      steps: [step('s1', []), step('s2', ['s1']), step('s3', []), step('s4', ['s2']), step('s5', ['s3', 's4'])],
    };
    expect(transcriptOrder(problem, problem.steps[4]!).map((s) => s.id)).toEqual(['s1', 's2', 's4', 's3']);
  });

  it('renders a chain step to the previous prompt plus every generated token, so the engine can reuse it all', () => {
    const chain = problemOf('chain');
    const results = new Map<string, string>();
    let previous: Uint32Array | undefined;
    for (const step of chain.steps) {
      const messages = stepMessages(chain, step, results);
      const prompt = renderChatPrompt(messages);
      if (previous) expect(prompt.subarray(0, previous.length)).toEqual(previous);
      const body = { model: 'Qwen/Qwen3-8B', messages, max_tokens: 256, ignore_eos: true, temperature: 0 };
      const plan = buildOutputPlan(planOutput(body), { maxTokens: 256, minTokens: 0, ignoreEos: true, namedToolChoice: false });
      results.set(step.id, plan.pieces.join(''));
      previous = new Uint32Array([...prompt, ...plan.tokenIds]);
    }
  });
});

describe('the flat prompt form', () => {
  it("sends one user turn: the problem, the dependencies' results, the step", () => {
    const diamond = problemOf('diamond');
    const [system, user, ...rest] = stepMessages(diamond, stepOf(diamond, 's4'), resultsOf(diamond), 'flat');
    expect(system).toEqual({ role: 'system', content: SYSTEM_PROMPT });
    expect(rest).toEqual([]);
    expect(user).toEqual({
      role: 'user',
      content: `Problem statement:\n${diamond.statement}\n\nResults of earlier steps:\n[step 2] The result of s2.\n[step 3] The result of s3.\n\nStep 4: ${stepOf(diamond, 's4').text}`,
    });
  });
});

describe('step kinds', () => {
  it("classify every shape's steps the same way in both forms (they depend on the DAG only)", () => {
    const kinds = Object.fromEntries((Object.keys(SHAPES) as ShapeName[]).map((shape) => {
      const problem = problemOf(shape);
      return [shape, problem.steps.map((s) => stepKind(problem, s))];
    }));
    expect(kinds).toEqual({
      chain: ['first', 'chain', 'chain', 'chain', 'chain'],
      diamond: ['first', 'parallel', 'parallel', 'merge'],
      'wide-diamond': ['first', 'parallel', 'parallel', 'parallel', 'merge'],
      'fan-in': ['first', 'first', 'first', 'merge'],
    });
  });
});
