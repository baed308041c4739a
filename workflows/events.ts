import type { CacheHint, CallRecord, RunResult, StageOutcome, ToolCallRecord } from './types.js';

// What a running workflow tells its observers, in order. A view (the demo's live terminal, a log,
// a test) subscribes with `onEvent`; the library never renders anything itself.
// `at` is milliseconds since the run started.

export interface StageInfo {
  name: string;
  after: readonly string[];
}

export type WorkflowEvent =
  | { type: 'run_started'; run: string; workflow: string; stages: readonly StageInfo[]; layers: readonly (readonly string[])[]; at: number }
  | { type: 'stage_started'; run: string; stage: string; priority?: number; cache?: CacheHint; at: number }
  | { type: 'call_started'; run: string; stage: string; turn: number; at: number }
  | { type: 'call_finished'; run: string; stage: string; call: CallRecord; at: number }
  | { type: 'tool_started'; run: string; stage: string; id: string; name: string; args: string; at: number }
  | { type: 'tool_finished'; run: string; stage: string; tool: ToolCallRecord; at: number }
  | { type: 'stage_finished'; run: string; stage: string; outcome: StageOutcome; at: number }
  | { type: 'run_finished'; run: string; result: RunResult<Record<string, unknown>>; at: number };

export type WorkflowEventListener = (event: WorkflowEvent) => void;

/** Distributes a union over its members, so each event keeps its own fields. */
type WithoutClock<E> = E extends unknown ? Omit<E, 'run' | 'at'> : never;
export type EventDraft = WithoutClock<WorkflowEvent>;

/** Stamps events with the run and the time, and keeps a failing listener from breaking the run. */
export function eventEmitter(run: string, listener: WorkflowEventListener | undefined, startedAt: number) {
  return (draft: EventDraft): void => {
    if (!listener) return;
    try {
      listener({ ...draft, run, at: performance.now() - startedAt } as WorkflowEvent);
    } catch {
      // An observer's bug must not leave the run uncompleted on the gateway.
    }
  };
}

export type Emit = ReturnType<typeof eventEmitter>;
