import { expect, it } from 'vitest';
import { Ledger } from '../../memory/ledger.js';
import type { RunRecord } from '../../sessions/runs.js';

const run = (id: string) => ({ id, resident: {} }) as unknown as RunRecord;

it('holds the runs with tokens on each replica, and whether others than a run do', () => {
  const ledger = new Ledger();
  const [a, b] = [run('a'), run('b')];
  ledger.setResident(a, 'r1', 100);
  ledger.setResident(b, 'r1', 50);
  ledger.setResident(b, 'r2', 0);
  expect(ledger.runsOn('r1')).toEqual([a, b]);
  expect(ledger.runsOn('r2')).toEqual([]);
  expect([ledger.othersOn('r1', a), ledger.othersOn('r2', a)]).toEqual([true, false]);
  ledger.setResident(b, 'r1', 0); // released
  expect(ledger.runsOn('r1')).toEqual([a]);
  expect(ledger.othersOn('r1', a)).toBe(false);
  expect(b.resident).toEqual({ r1: 0, r2: 0 });
});

it('never takes back a run the store dropped: a late call of its changes only its own count', () => {
  const ledger = new Ledger();
  const gone = run('gone');
  ledger.setResident(gone, 'r1', 100);
  ledger.drop(gone);
  expect(ledger.runsOn('r1')).toEqual([]);
  ledger.setResident(gone, 'r1', 300); // its call that was in flight completes
  expect(ledger.runsOn('r1')).toEqual([]);
  expect(gone.resident.r1).toBe(300);
  expect(ledger.isDropped(gone)).toBe(true);
  // The same id, live again, is a new record: the ledger counts it.
  const again = run('gone');
  ledger.setResident(again, 'r1', 10);
  expect(ledger.runsOn('r1')).toEqual([again]);
});
