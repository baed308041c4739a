import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../routing/circuit.js';

// One replica's circuit on its own, with explicit times (no clock).

/** A circuit opened at t=0 by `failures` failures, seen half-open at t=openMs. */
function halfOpen(): CircuitBreaker {
  const circuit = new CircuitBreaker(2, 1000);
  circuit.record(false, 0);
  circuit.record(false, 0);
  expect(circuit.admits(500)).toBe(false);
  expect(circuit.admits(1000)).toBe(true);
  expect(circuit.state).toBe('half-open');
  return circuit;
}

describe('a circuit breaker', () => {
  it('gives the probe slot back when the probe is abandoned, and stays half-open', () => {
    const circuit = halfOpen();
    const probe = circuit.sent();
    expect(circuit.admits(1000)).toBe(false); // one probe at a time
    circuit.probeAbandoned(probe);
    expect(circuit.admits(1000)).toBe(true);
    expect(circuit.state).toBe('half-open');
  });

  it('ignores an abandoned request that was not the current probe', () => {
    const circuit = halfOpen();
    const stale = circuit.sent();
    circuit.record(false, 1000); // a failure reopens it; the stale probe is over
    expect(circuit.admits(2000)).toBe(true);
    circuit.sent();
    circuit.probeAbandoned(stale);
    circuit.probeAbandoned(0); // a request sent while closed
    expect(circuit.admits(2000)).toBe(false); // the new probe still holds the slot
  });
});
