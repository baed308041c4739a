import type { StageInfo } from './events.js';

// A workflow's shape is checked when it is defined, before anything runs: every dependency must
// name a stage of the workflow, and the stages must form a DAG.

export class WorkflowDefinitionError extends Error {
  constructor(
    readonly workflow: string,
    readonly problems: string[],
  ) {
    super(`workflow ${workflow} is not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'WorkflowDefinitionError';
  }
}

export interface Dag {
  /** Stages in a topological order (dependencies first; ties in definition order). */
  order: readonly string[];
  /** Stages by depth: a stage's layer is one more than its deepest dependency's. */
  layers: readonly (readonly string[])[];
  /** Per stage, every stage it depends on directly or through others: all are done when it starts. */
  ancestors: ReadonlyMap<string, ReadonlySet<string>>;
}

export function checkDag(workflow: string, stages: readonly StageInfo[]): Dag {
  const names = new Set(stages.map((s) => s.name));
  const problems: string[] = [];
  if (stages.length === 0) problems.push('it has no stages');
  for (const stage of stages) {
    for (const dep of stage.after) {
      if (!names.has(dep)) {
        problems.push(`stage ${stage.name} depends on ${dep}, which is not a stage of this workflow (stages: ${[...names].join(', ')})`);
      }
    }
  }
  if (problems.length > 0) throw new WorkflowDefinitionError(workflow, problems);

  const cycle = findCycle(stages);
  if (cycle) throw new WorkflowDefinitionError(workflow, [`its stages form a cycle: ${cycle.join(' → ')}`]);
  return layout(stages);
}

/** A cycle as a path that ends where it starts, or undefined. Depth-first, colouring visited stages. */
function findCycle(stages: readonly StageInfo[]): string[] | undefined {
  const after = new Map(stages.map((s) => [s.name, s.after]));
  const state = new Map<string, 'open' | 'closed'>();
  const path: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'closed') return undefined;
    if (state.get(name) === 'open') return [...path.slice(path.indexOf(name)), name];
    state.set(name, 'open');
    path.push(name);
    for (const dep of after.get(name) ?? []) {
      const found = visit(dep);
      if (found) return found;
    }
    path.pop();
    state.set(name, 'closed');
    return undefined;
  };
  for (const stage of stages) {
    const found = visit(stage.name);
    // Found by following dependencies, so reverse it to read in execution order.
    if (found) return found.reverse();
  }
  return undefined;
}

function layout(stages: readonly StageInfo[]): Dag {
  const depth = new Map<string, number>();
  const byName = new Map(stages.map((s) => [s.name, s]));
  const depthOf = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    const deps = byName.get(name)?.after ?? [];
    const d = deps.length === 0 ? 0 : 1 + Math.max(...deps.map(depthOf));
    depth.set(name, d);
    return d;
  };
  const layers: string[][] = [];
  for (const stage of stages) (layers[depthOf(stage.name)] ??= []).push(stage.name);
  const order = layers.flat();
  const ancestors = new Map<string, Set<string>>();
  for (const name of order) {
    const set = new Set<string>();
    for (const dep of byName.get(name)?.after ?? []) {
      set.add(dep);
      for (const a of ancestors.get(dep) ?? []) set.add(a);
    }
    ancestors.set(name, set);
  }
  return { order, layers, ancestors };
}
