import { Command, InvalidArgumentError, Option } from 'commander';
import type { PersonalityName, PersonalityOptions } from '../simulator/index.js';
import { PERSONALITY_NAMES } from '../simulator/personalities/personality.js';
import { DEFAULT_PROFILE, profileNames } from '../simulator/profiles.js';
import { listenFailure } from '../gateway/server.js';
import { exitOnStartError, parsePort } from './config.js';

interface SimOptions extends PersonalityOptions {
  host: string;
  port: number;
  profile: string;
  speed: number;
  faults?: boolean;
  model?: string[];
  kvTokens?: number;
  engine: PersonalityName;
}

/** Each engine's flags (named as the engine names them), so one meant for another engine is refused. */
const ENGINE_FLAGS: Readonly<Record<PersonalityName, readonly [keyof PersonalityOptions, string][]>> = {
  simulator: [],
  vllm: [
    ['enablePromptTokensDetails', '--enable-prompt-tokens-details'],
    ['devMode', '--dev-mode'],
    ['schedulingPolicy', '--scheduling-policy'],
  ],
  sglang: [
    ['apiKey', '--api-key'],
    ['adminApiKey', '--admin-api-key'],
    ['enableCacheReport', '--enable-cache-report'],
    ['enableMetrics', '--enable-metrics'],
    ['enablePriorityScheduling', '--enable-priority-scheduling'],
    ['scheduleLowPriorityValuesFirst', '--schedule-low-priority-values-first'],
    ['abortOnPriorityWhenDisabled', '--abort-on-priority-when-disabled'],
  ],
  llamacpp: [
    ['parallel', '--parallel'],
    ['slotSavePath', '--slot-save-path'],
    ['metrics', '--metrics'],
    ['slotPromptSimilarity', '--slot-prompt-similarity'],
  ],
};

/** `orla sim`: one standalone simulated engine (an OpenAI-compatible server that behaves like vLLM, SGLang or llama.cpp). */
export function simCommand(): Command {
  const command = new Command('sim')
    .description('run one simulated inference engine (OpenAI-compatible, vLLM-like timing, prefix cache and metrics)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('-p, --port <port>', 'port to listen on (0: any free port)', asPort, 8000)
    .addOption(new Option('--profile <name>', 'latency and capacity profile').choices(profileNames()).default(DEFAULT_PROFILE))
    .option('--speed <x>', 'run X times faster than real time', asPositiveNumber, 1)
    .option('--faults', 'honour the x-sim-fault request header (fault injection for tests)')
    .option('--model <name...>', 'served model name(s), replacing the profile\'s')
    .option('--kv-tokens <n>', 'KV cache capacity in tokens', asPositiveInteger)
    .addOption(new Option('--engine <name>', 'which engine to answer as: its routes, errors, usage and cache controls').choices(PERSONALITY_NAMES).default('simulator'))
    .optionsGroup('vLLM flags (--engine vllm):')
    .option('--enable-prompt-tokens-details', 'report usage.prompt_tokens_details.cached_tokens (when > 0)')
    .option('--dev-mode', 'VLLM_SERVER_DEV_MODE=1, which adds POST /reset_prefix_cache')
    .addOption(new Option('--scheduling-policy <policy>', 'fcfs refuses `priority`; priority serves lower values first').choices(['fcfs', 'priority']))
    .optionsGroup('SGLang flags (--engine sglang):')
    .option('--api-key <key>', 'every route but /health and /metrics needs this bearer key')
    .option('--admin-api-key <key>', '/flush_cache needs this bearer key (and only this one)')
    .option('--enable-cache-report', 'report usage.prompt_tokens_details.cached_tokens (when > 0)')
    .option('--enable-metrics', 'serve GET /metrics (sglang:* names)')
    .option('--enable-priority-scheduling', 'honour `priority`, higher first')
    .option('--schedule-low-priority-values-first', 'with priority scheduling, lower values first')
    .option('--abort-on-priority-when-disabled', 'refuse (503) a `priority` when priority scheduling is off')
    .optionsGroup('llama.cpp flags (--engine llamacpp):')
    .option('--parallel <n>', 'number of slots (llama-server --parallel / -np; default 4)', asPositiveInteger)
    .option('--slot-save-path <dir>', 'enables POST /slots/{id}?action=erase (otherwise 501)')
    .option('--metrics', 'serve GET /metrics (llamacpp:* names; otherwise 501)')
    .option('--slot-prompt-similarity <x>', 'prompt similarity a slot must exceed to be reused (default 0.1, 0 disables)', asFraction)
    .action(async (options: SimOptions) => {
      for (const [engine, flags] of Object.entries(ENGINE_FLAGS)) {
        if (engine === options.engine) continue;
        for (const [key, flag] of flags) {
          if (options[key] !== undefined) command.error(`orla sim: ${flag} is a ${engine} flag; this simulator runs --engine ${options.engine}`, { exitCode: 2 });
        }
      }
      const engineFlags: PersonalityOptions = {};
      for (const [key] of ENGINE_FLAGS[options.engine]) if (options[key] !== undefined) (engineFlags as Record<string, unknown>)[key] = options[key];
      const { startSimulator } = await import('../simulator/index.js');
      const sim = await startSimulator({
        profile: options.profile,
        speed: options.speed,
        host: options.host,
        port: options.port,
        faults: options.faults ?? false,
        models: options.model,
        kvCapacityTokens: options.kvTokens,
        personality: options.engine,
        ...engineFlags,
      }).catch((err: unknown) => exitOnStartError(listenFailure(err, options.host, options.port) ?? err));
      const { servedModels, kvCapacityTokens } = sim.engine.profile;
      process.stdout.write(
        `orla sim listening on ${sim.url} (engine ${options.engine}, profile ${options.profile}, model ${servedModels.join(', ')}, ` +
          `speed ${options.speed}x, KV ${kvCapacityTokens} tokens${options.faults ? ', faults on' : ''})\n`,
      );
      const stop = (): void => {
        sim.close().then(() => process.exit(0));
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
  return command;
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

function asFraction(value: string): number {
  const number = Number(value);
  if (!(number >= 0 && number <= 1)) throw new InvalidArgumentError(`not a number between 0 and 1: ${value}`);
  return number;
}
