import { checkDag, type Dag } from './dag.js';
import type { StageInfo } from './events.js';
import { executeRun, type RunOptions } from './run.js';
import type { RunResult, StageMap } from './types.js';

/**
 * A DAG of stages. `I` is the run's input, `R` maps each stage name to its result type.
 * The shape is checked here, so a cycle or a dependency on a missing stage throws a
 * WorkflowDefinitionError before anything runs.
 *
 *   const wf = new Workflow<Ticket, { classify: Classification; reply: string }>('support', {
 *     classify: { messages: ({ input }) => [...], responseFormat: { name: 'ticket', schema } },
 *     reply: { after: ['classify'], messages: (ctx) => [...ctx.result('classify')...] },
 *   });
 *   const result = await wf.run(ticket, { client: new OpenAI({ baseURL: `${gateway}/v1`, apiKey }) });
 */
export class Workflow<I, R extends Record<string, unknown>> {
  readonly stages: readonly StageInfo[];
  readonly dag: Dag;

  constructor(
    readonly name: string,
    private readonly specs: StageMap<I, R>,
  ) {
    this.stages = Object.entries(specs).map(([stage, spec]) => ({
      name: stage,
      after: [...new Set((spec as { after?: readonly string[] }).after ?? [])],
    }));
    this.dag = checkDag(name, this.stages);
  }

  /**
   * Runs the workflow once. Never rejects for a stage's failure or for cancellation: the result
   * says what happened to each stage, and the run is completed on the gateway in every case.
   */
  run(input: I, options: RunOptions): Promise<RunResult<R>> {
    return executeRun({ name: this.name, stages: this.specs, info: this.stages, dag: this.dag }, input, options);
  }
}
