import { defaultConfig } from '../config/defaults.js';
import { ConfigError, loadConfigFile } from '../config/load.js';
import { ListenError } from '../gateway/server.js';
import type { Config } from '../config/schema.js';
import { profileNames } from '../simulator/profiles.js';

export interface ConfigOptions {
  config?: string;
  host?: string;
  port?: number;
  drainTimeout?: number;
}

/** The config file a command reads: `--config`, else `$ORLA_CONFIG` (a path); undefined: the embedded default. */
export function configFile(flag: string | undefined): string | undefined {
  return flag ?? (process.env.ORLA_CONFIG || undefined);
}

/** The config a command runs with: the file (see configFile), or the embedded default; the flags win. */
export async function resolveConfig(options: ConfigOptions): Promise<Config> {
  const file = configFile(options.config);
  const config = file ? await loadConfigFile(file, { simulatorProfiles: profileNames() }) : defaultConfig();
  if (options.host !== undefined) config.server.host = options.host;
  if (options.port !== undefined) config.server.port = options.port;
  if (options.drainTimeout !== undefined) config.server.drain_timeout_s = options.drainTimeout;
  return config;
}

/** A config mistake ends the command with its message and exit code 2; anything else is rethrown. */
export function exitOnConfigError(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`orla: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

/**
 * An expected start-up failure ends the command with one line and no stack: a config mistake with
 * exit code 2, a failure to listen (a taken port, an unknown host) with 1; anything else is rethrown.
 * Whatever had started is freed by then (startGateway frees its simulators and pools itself).
 */
export function exitOnStartError(err: unknown): never {
  if (err instanceof ListenError) {
    process.stderr.write(`orla: ${err.message}\n`);
    process.exit(1);
  }
  return exitOnConfigError(err);
}

export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`not a port: ${value}`);
  return port;
}
