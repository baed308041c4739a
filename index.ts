// The package's root entry (`import … from 'orla'`): the workflow library, and what it takes to run a
// gateway or a simulated engine from code. `orla/workflows` is the library alone, without the gateway.
import { loadConfigFile } from './config/load.js';
import type { Config } from './config/schema.js';
import { profileNames } from './simulator/profiles.js';

export * from './workflows/index.js';

export { startGateway, ListenError, type RunningGateway, type StartOptions } from './gateway/server.js';
export { defaultConfig } from './config/defaults.js';
export { ConfigError, parseConfig, validateConfig, type LoadOptions } from './config/load.js';
export type { Config, BackendConfig, StageConfig, EngineKind } from './config/schema.js';
export { startSimulator, profileNames, type SimulatorOptions, type RunningSimulator } from './simulator/index.js';

/**
 * A config file (YAML or JSON; `${VAR}` from `env`) → a validated config, as `orla serve --config`
 * reads it. Throws a ConfigError naming every mistake.
 */
export function loadConfig(file: string, env: Record<string, string | undefined> = process.env): Promise<Config> {
  return loadConfigFile(file, { env, simulatorProfiles: profileNames() });
}
