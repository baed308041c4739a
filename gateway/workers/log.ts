import { pino, type Logger } from 'pino';

/** One JSON line per entry on the console (Workers Logs, `wrangler tail`): pino's browser build, which wrangler bundles. */
export function workerLog(level = 'info'): Logger {
  return pino({ level, browser: { asObject: true, serialize: true, write: (entry) => console.log(JSON.stringify(entry)) } });
}
