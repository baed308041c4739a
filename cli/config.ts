import { defaultConfig } from '../config/defaults.js';
import { ConfigError, loadConfigFile } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { profileNames } from '../simulator/profiles.js';

/** The config a command runs with: the file, or the embedded default; `--host`/`--port` win. */
export async function resolveConfig(options: { config?: string; host?: string; port?: number }): Promise<Config> {
  const config = options.config
    ? await loadConfigFile(options.config, { simulatorProfiles: profileNames() })
    : defaultConfig();
  if (options.host !== undefined) config.server.host = options.host;
  if (options.port !== undefined) config.server.port = options.port;
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

export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`not a port: ${value}`);
  return port;
}
