import { dirname, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { startGateway } from '../gateway/server.js';
import { configFile, exitOnConfigError, exitOnStartError, parsePort, resolveConfig, type ConfigOptions } from './config.js';
import { preflight } from './preflight.js';

export function serveCommand(): Command {
  return new Command('serve')
    .description('run the gateway (no --config: the embedded default, two simulated engines and the customer-support stages)')
    .option('-c, --config <file>', 'YAML or JSON configuration file (default: $ORLA_CONFIG, else the embedded default)')
    .option('--host <host>', 'address to listen on (overrides server.host)')
    .option('-p, --port <port>', 'port to listen on (overrides server.port)', portArgument)
    .option('--drain-timeout <seconds>', 'on SIGTERM, how long in-flight requests may take (overrides server.drain_timeout_s)', secondsArgument)
    .action(async (options: ConfigOptions) => {
      const config = await resolveConfig(options).catch(exitOnConfigError);
      // Module paths in a config (custom policies, mappers) are relative to the config file.
      const file = configFile(options.config);
      const baseDir = file ? dirname(resolve(file)) : process.cwd();
      // Every config mistake at once (the same check as `orla check`), before anything starts.
      await preflight(config, { baseDir, verifyModels: false }).catch(exitOnConfigError);
      const gateway = await startGateway(config, { baseDir }).catch(exitOnStartError);
      const stages = Object.entries(config.stages).map(([name, s]) => `${name} → ${s.backend ?? `mapper ${s.mapper}`}`).join(', ');
      process.stdout.write(
        [
          `orla gateway listening on ${gateway.url}`,
          `  stages: ${stages || '(none)'}`,
          `  try it:`,
          `    curl ${gateway.url}/v1/chat/completions -H 'content-type: application/json' -H 'X-Orla-Stage: classify' \\`,
          `      -d '{"model": "orla:classify", "messages": [{"role": "user", "content": "My card was charged twice."}]}'`,
          '',
        ].join('\n'),
      );
      const stop = (signal: string) => {
        process.stdout.write(`orla: ${signal}: draining in-flight requests\n`);
        gateway.close().then(() => process.exit(0));
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
}

function secondsArgument(value: string): number {
  const seconds = Number(value);
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds < 0) throw new InvalidArgumentError(`not a number of seconds: ${value}`);
  return seconds;
}

function portArgument(value: string): number {
  try {
    return parsePort(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}
