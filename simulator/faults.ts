// Fault injection, only on a simulator started with `faults: true` (`orla sim --faults`): the
// request header `x-sim-fault` picks one failure, so tests can exercise every way an engine or
// its network can let a gateway down.
import { badRequest, type SimulatorError } from './errors.js';

export const FAULT_HEADER = 'x-sim-fault';

export type Fault =
  /** Answer with this HTTP status and an error envelope. */
  | { kind: 'status'; status: number }
  /** Destroy the socket before any response. */
  | { kind: 'reset' }
  /** Never send headers; the request stays open until the client leaves. */
  | { kind: 'hang' }
  /** Stream `chunks` content chunks, then stop sending forever with the connection open. */
  | { kind: 'stall-after'; chunks: number }
  /** Stream `chunks` content chunks, then destroy the socket. */
  | { kind: 'cut-after'; chunks: number }
  /**
   * Stream `chunks` content chunks, then the engine's own mid-stream error event (and whatever that
   * engine writes after it, e.g. `data: [DONE]`), and end the response: HTTP 200 was already sent.
   */
  | { kind: 'error-after'; chunks: number }
  /** Emit a broken SSE data line after the first content chunk (or a truncated JSON body). */
  | { kind: 'malformed-sse' };

const COUNTED = /^(stall-after|cut-after|error-after)=(\d+)$/;
const STATUS = /^status=(\d{3})$/;

/** The fault a header asks for; null without one; a 400 for a value it does not know. */
export function parseFault(header: string | string[] | undefined): Fault | null | SimulatorError {
  if (header === undefined) return null;
  const value = (Array.isArray(header) ? header[0] ?? '' : header).trim();
  if (value === 'reset' || value === 'hang' || value === 'malformed-sse') return { kind: value };
  const status = STATUS.exec(value);
  if (status) {
    const code = Number(status[1]);
    if (code >= 400 && code <= 599) return { kind: 'status', status: code };
  }
  const counted = COUNTED.exec(value);
  if (counted) return { kind: counted[1] as 'stall-after' | 'cut-after' | 'error-after', chunks: Number(counted[2]) };
  return badRequest(
    FAULT_HEADER,
    `unknown ${FAULT_HEADER} "${value}" (known: status=<4xx|5xx>, reset, hang, stall-after=<n>, cut-after=<n>, error-after=<n>, malformed-sse)`,
  );
}
