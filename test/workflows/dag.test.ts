import { describe, expect, it } from 'vitest';
import { ServiceDesk, customerSupportWorkflow } from '../../workflows/customer-support/index.js';
import { Workflow, WorkflowDefinitionError, type StageMap } from '../../workflows/index.js';

// A workflow's shape is checked when it is defined: nothing can run before the error.

type Any = Record<string, unknown>;
const stage = (after: string[] = []) => ({ after, messages: () => [{ role: 'user' as const, content: 'x' }] });
const define = (stages: StageMap<null, Any>) => new Workflow<null, Any>('wf', stages);

describe('defining a workflow', () => {
  it('rejects a dependency on a stage that does not exist, naming both', () => {
    const error = (() => {
      try {
        define({ classify: stage(), reply: stage(['classify', 'polcy_check']) });
      } catch (err) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(WorkflowDefinitionError);
    expect((error as Error).message).toContain('stage reply depends on polcy_check, which is not a stage of this workflow');
    expect((error as WorkflowDefinitionError).problems).toHaveLength(1);
  });

  it('rejects a cycle, showing its path', () => {
    expect(() => define({ a: stage(['c']), b: stage(['a']), c: stage(['b']) })).toThrow(/cycle: a → b → c → a/);
  });

  it('rejects a stage that depends on itself', () => {
    expect(() => define({ solo: stage(['solo']) })).toThrow(/cycle: solo → solo/);
  });

  it('rejects a workflow without stages', () => {
    expect(() => define({})).toThrow(WorkflowDefinitionError);
  });

  it('lays the stages out in layers: each one after the deepest of its dependencies', () => {
    const wf = define({ d: stage(['b', 'c']), a: stage(), b: stage(['a']), c: stage(['a', 'b']) });
    expect(wf.dag.layers).toEqual([['a'], ['b'], ['c'], ['d']]);
    expect(wf.dag.order).toEqual(['a', 'b', 'c', 'd']);
    expect([...wf.dag.ancestors.get('d')!].sort()).toEqual(['a', 'b', 'c']);
  });

  it('the customer-support workflow fans out after classify and joins at reply', () => {
    const wf = customerSupportWorkflow(new ServiceDesk());
    expect(wf.dag.layers).toEqual([['classify'], ['policy_check', 'route_ticket'], ['reply']]);
  });
});
