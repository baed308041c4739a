import { describe, expect, it } from 'vitest';
import { KeyedLimiter } from '../../memory/limiter.js';
import { until, within } from '../helpers/wait.js';

/** A task that runs until the test lets it finish; records when it started. */
function gate(started: string[], name: string) {
  let finish!: () => void;
  let fail!: (err: Error) => void;
  const done = new Promise<string>((resolve, reject) => {
    finish = () => resolve(name);
    fail = reject;
  });
  return { task: () => (started.push(name), done), finish, fail };
}

describe('KeyedLimiter', () => {
  it('runs at most `limit` tasks per key at once, the rest in arrival order, other keys unaffected', async () => {
    const limiter = new KeyedLimiter(2);
    const started: string[] = [];
    const tasks = ['a1', 'a2', 'a3', 'a4'].map((name) => gate(started, name));
    const other = gate(started, 'b1');
    const results = tasks.map((t) => limiter.run('a', t.task));
    const otherResult = limiter.run('b', other.task);
    await until(() => started.length === 3, 'two of key a and one of key b to start');
    expect(started).toEqual(['a1', 'a2', 'b1']);

    tasks[1]!.finish();
    expect(await within(results[1]!, 'a2')).toBe('a2');
    await until(() => started.length === 4, 'a3 to take the freed slot');
    expect(started.at(-1)).toBe('a3');

    tasks[0]!.fail(new Error('engine down')); // a failing task frees its slot too
    await expect(results[0]).rejects.toThrow('engine down');
    await until(() => started.length === 5, 'a4 to take the slot a1 left');
    expect(started.at(-1)).toBe('a4');

    for (const t of [tasks[2]!, tasks[3]!, other]) t.finish();
    expect(await within(Promise.all([results[2], results[3], otherResult]), 'the rest')).toEqual(['a3', 'a4', 'b1']);
    // Every slot came back: a fresh burst starts `limit` at once again.
    const again = ['c1', 'c2', 'c3'].map((name) => gate(started, name));
    const pending = again.map((t) => limiter.run('a', t.task));
    await until(() => started.length === 7, 'two fresh tasks to start');
    expect(started.slice(5)).toEqual(['c1', 'c2']);
    for (const t of again) t.finish();
    await within(Promise.all(pending), 'the fresh burst');
  });
});
