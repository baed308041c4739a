import type { WorkflowEvent } from '../events.js';
import type { CacheHint, Completion, RunStatus, StageStatus, Tokens } from '../types.js';

// The live view's model: what is known about each run and stage so far, folded from the workflow
// events. Pure data, no rendering, so the terminal and the tests read the same thing.

export interface ToolView {
  id: string;
  name: string;
  args: string;
  state: 'running' | 'ok' | 'error';
  durationMs?: number;
}

export interface StageView {
  name: string;
  after: readonly string[];
  status: StageStatus;
  backend?: string;
  model?: string;
  priority?: number;
  cacheHint?: CacheHint;
  /** `X-Orla-Cache` of the latest call: the action the gateway took, and why. */
  cacheAction?: string;
  calls: number;
  /** A call is in flight. */
  calling: boolean;
  queueMs: number;
  queueReported: boolean;
  tokens: Tokens;
  costUsd?: number;
  startedMs?: number;
  finishedMs?: number;
  tools: ToolView[];
  /** One line about the result (from the view's `describe`), or the error. */
  note?: string;
}

export interface RunView {
  run: string;
  label: string;
  workflow: string;
  layers: readonly (readonly string[])[];
  stages: StageView[];
  status: 'running' | RunStatus;
  durationMs?: number;
  tokens: Tokens;
  costUsd?: number;
  completion?: Completion;
}

/** A one-line description of a stage's result, for views that know the workflow. */
export type DescribeResult = (stage: string, result: unknown) => string | undefined;

const noTokens = (): Tokens => ({ prompt: 0, completion: 0, cached: 0 });

export class Board {
  readonly runs: RunView[] = [];
  private readonly labels = new Map<string, string>();

  constructor(private readonly describe: DescribeResult = () => undefined) {}

  /** Names a run in the view (e.g. the ticket it serves) before its events arrive. */
  label(run: string, label: string): void {
    this.labels.set(run, label);
  }

  run(id: string): RunView | undefined {
    return this.runs.find((r) => r.run === id);
  }

  apply(event: WorkflowEvent): void {
    if (event.type === 'run_started') {
      this.runs.push({
        run: event.run,
        label: this.labels.get(event.run) ?? event.run,
        workflow: event.workflow,
        layers: event.layers,
        stages: event.stages.map((s) => ({ name: s.name, after: s.after, status: 'pending', calls: 0, calling: false, queueMs: 0, queueReported: false, tokens: noTokens(), tools: [] })),
        status: 'running',
        tokens: noTokens(),
      });
      return;
    }
    const run = this.run(event.run);
    if (!run) return;
    if (event.type === 'run_finished') {
      run.status = event.result.status;
      run.durationMs = event.result.durationMs;
      run.tokens = event.result.tokens;
      if (event.result.costUsd !== undefined) run.costUsd = event.result.costUsd;
      run.completion = event.result.completion;
      return;
    }
    const stage = run.stages.find((s) => s.name === event.stage);
    if (stage) applyToStage(stage, event, this.describe);
  }
}

function applyToStage(stage: StageView, event: Exclude<WorkflowEvent, { type: 'run_started' | 'run_finished' }>, describe: DescribeResult): void {
  switch (event.type) {
    case 'stage_started':
      stage.status = 'running';
      stage.startedMs = event.at;
      if (event.priority !== undefined) stage.priority = event.priority;
      if (event.cache !== undefined) stage.cacheHint = event.cache;
      return;
    case 'call_started':
      stage.calling = true;
      return;
    case 'call_finished': {
      const call = event.call;
      stage.calling = false;
      stage.calls += 1;
      stage.model = call.model;
      if (call.backend !== undefined) stage.backend = call.backend;
      if (call.cacheAction !== undefined) stage.cacheAction = call.cacheAction;
      if (call.queueMs !== undefined) {
        stage.queueMs += call.queueMs;
        stage.queueReported = true;
      }
      stage.tokens.prompt += call.tokens.prompt;
      stage.tokens.completion += call.tokens.completion;
      stage.tokens.cached += call.tokens.cached;
      if (call.costUsd !== undefined) stage.costUsd = (stage.costUsd ?? 0) + call.costUsd;
      return;
    }
    case 'tool_started':
      stage.tools.push({ id: event.id, name: event.name, args: event.args, state: 'running' });
      return;
    case 'tool_finished': {
      const tool = stage.tools.find((t) => t.id === event.tool.id && t.state === 'running');
      if (tool) {
        tool.state = event.tool.ok ? 'ok' : 'error';
        tool.durationMs = event.tool.durationMs;
      }
      return;
    }
    case 'stage_finished': {
      const outcome = event.outcome;
      stage.status = outcome.status;
      stage.calling = false;
      stage.finishedMs = event.at;
      const note = outcome.status === 'done' ? describe(stage.name, outcome.result) : outcome.error?.message;
      if (note !== undefined) stage.note = note;
      return;
    }
  }
}
