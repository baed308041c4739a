import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_PROFILE, profileNames, startSimulator } from '../simulator/index.js';
import { listenFailure } from '../gateway/server.js';
import { exitOnStartError, parsePort } from './config.js';

interface SimOptions {
  host: string;
  port: number;
  profile: string;
  speed: number;
  faults?: boolean;
  model?: string[];
  kvTokens?: number;
}

/** `orla sim`: one standalone simulated engine (an OpenAI-compatible server that behaves like vLLM). */
export function simCommand(): Command {
  return new Command('sim')
    .description('run one simulated inference engine (OpenAI-compatible, vLLM-like timing, prefix cache and metrics)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('-p, --port <port>', 'port to listen on (0: any free port)', asPort, 8000)
    .addOption(new Option('--profile <name>', 'latency and capacity profile').choices(profileNames()).default(DEFAULT_PROFILE))
    .option('--speed <x>', 'run X times faster than real time', asPositiveNumber, 1)
    .option('--faults', 'honour the x-sim-fault request header (fault injection for tests)')
    .option('--model <name...>', 'served model name(s), replacing the profile\'s')
    .option('--kv-tokens <n>', 'KV cache capacity in tokens', asPositiveInteger)
    .action(async (options: SimOptions) => {
      const sim = await startSimulator({
        profile: options.profile,
        speed: options.speed,
        host: options.host,
        port: options.port,
        faults: options.faults ?? false,
        models: options.model,
        kvCapacityTokens: options.kvTokens,
      }).catch((err: unknown) => exitOnStartError(listenFailure(err, options.host, options.port) ?? err));
      const { servedModels, kvCapacityTokens } = sim.engine.profile;
      process.stdout.write(
        `orla sim listening on ${sim.url} (profile ${options.profile}, model ${servedModels.join(', ')}, ` +
          `speed ${options.speed}x, KV ${kvCapacityTokens} tokens${options.faults ? ', faults on' : ''})\n`,
      );
      const stop = (): void => {
        sim.close().then(() => process.exit(0));
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
}

function asPort(value: string): number {
  try {
    return parsePort(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function asPositiveNumber(value: string): number {
  const number = Number(value);
  if (!(number > 0) || !Number.isFinite(number)) throw new InvalidArgumentError(`not a positive number: ${value}`);
  return number;
}

function asPositiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) throw new InvalidArgumentError(`not a positive integer: ${value}`);
  return number;
}
