import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

/** A pino logger at `level` (every level by default) whose lines land in `lines`, as written. */
export function capturedLog(level: pino.LevelWithSilent = 'trace'): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter((line) => line.length > 0));
      done();
    },
  });
  return { log: pino({ level, base: undefined }, sink), lines };
}
