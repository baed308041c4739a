import { z } from 'zod';
import { ENGINES } from '../upstream/engines/index.js';
import { backendMapperKeys, mapperConfigKeys, stageMapperKeys } from './mappers.js';
import { telemetryConfigKeys } from './telemetry.js';
import { stateConfigKeys } from './state.js';
import { variantConfigKeys } from './variants.js';

// The configuration file's shape (DESIGN.md, "Configuration"). Keys are a public contract: extend, never rename.
// Objects are strict so a misspelt key is an error at start-up, not a silently ignored setting.

export { ENGINES, type EngineKind } from '../upstream/engines/index.js';

const positiveInt = z.number().int().positive();

const price = z.strictObject({
  input_per_mtok: z.number().nonnegative().default(0),
  cached_input_per_mtok: z.number().nonnegative().optional(),
  output_per_mtok: z.number().nonnegative().default(0),
});

const timeouts = z.strictObject({
  connect_ms: positiveInt.default(5_000),
  /** Until the response headers arrive; a non-streaming completion sends them only when it is done. */
  first_byte_ms: positiveInt.default(600_000),
  /** Longest silence between two chunks of a body. */
  idle_ms: positiveInt.default(120_000),
});

/** A policy by name (fcfs, priority, sjf, fair, run-fair) or a module path (`./my-policy.js`, relative to the config). */
const policyName = z.string().min(1);

const circuit = z.strictObject({
  /** Consecutive failures that open a replica's circuit. */
  failures: positiveInt.default(5),
  /** How long it stays open before one half-open probe. */
  open_ms: positiveInt.default(10_000),
});

const retries = z.strictObject({
  /** Further tries after the first, on connect errors and retryable statuses, before any byte reached the client. */
  attempts: z.number().int().nonnegative().default(2),
  backoff_ms: z.number().int().nonnegative().default(50),
});

const backend = z.strictObject({
  engine: z.enum(ENGINES),
  /** Replicas of the same model server. A `simulator` backend without urls runs in-process. */
  urls: z.array(z.url({ protocol: /^https?$/ })).min(1).optional(),
  /** In-process simulator only: the latency profile and speed-up. */
  profile: z.string().optional(),
  speed: z.number().positive().optional(),
  api_key: z.string().optional(),
  /** SGLang started with `--admin-api-key`: its admin routes (`/flush_cache`) want this key instead of `api_key`. */
  admin_api_key: z.string().optional(),
  max_concurrency: positiveInt.default(64),
  queue_limit: z.number().int().nonnegative().default(4096),
  price: price.optional(),
  timeouts: timeouts.default({ connect_ms: 5_000, first_byte_ms: 600_000, idle_ms: 120_000 }),
  /** The engine runs with priority scheduling (vLLM `--scheduling-policy priority`, SGLang `--enable-priority-scheduling`). */
  priority_scheduling: z.boolean().default(false),
  /**
   * Which `priority` values the engine serves first. Default: vLLM lower first (fixed), SGLang and
   * the simulator higher first; SGLang with `--schedule-low-priority-values-first` is `lower_first`.
   */
  priority_order: z.enum(['higher_first', 'lower_first']).optional(),
  /** Which stage's queue this backend serves next (level 1); default: `scheduler.stage`. */
  scheduler: policyName.optional(),
  circuit: circuit.default({ failures: 5, open_ms: 10_000 }),
  retries: retries.default({ attempts: 2, backoff_ms: 50 }),
  /** KV-cache size per replica in tokens; with it, Orla's ledger joins the pressure signal. */
  kv_capacity_tokens: positiveInt.optional(),
  /** llama.cpp: parallel slots per replica (its `-np`); each run gets one (`id_slot`). Default: learned from GET /slots. */
  slots: positiveInt.optional(),
  ...backendMapperKeys,
});

const fallback = z.strictObject({
  backend: z.string(),
  model: z.string().optional(),
  params: z.record(z.string(), z.unknown()).optional(),
});

const stage = z.strictObject({
  /** Absent when the stage names a `mapper`. */
  backend: z.string().optional(),
  ...stageMapperKeys,
  /** Rewritten into the request; absent: the client's model is kept. */
  model: z.string().optional(),
  /** Request fields the stage sets; they override the client's values. */
  params: z.record(z.string(), z.unknown()).optional(),
  /** Which request inside this stage's queue goes next (level 2); default: `scheduler.request`. */
  scheduler: policyName.optional(),
  /** Share of its backend under the `fair` stage scheduler. */
  weight: z.number().positive().default(1),
  /** Other backends to use when the primary's circuit is open or its estimated wait is too long. */
  fallbacks: z.array(fallback).default([]),
  /** Reroute to a fallback when the primary's estimated queue wait exceeds this. */
  reroute_wait_ms: positiveInt.optional(),
  /** The stage's cache hint; a request's X-Orla-Cache wins. */
  cache: z.enum(['preserve', 'flush', 'auto']).default('auto'),
});

const scheduler = z.strictObject({
  /** Level 1, every backend's default. `priority` (ties oldest) is first come, first served until a request says X-Orla-Priority. */
  stage: policyName.default('priority'),
  /** Level 2, every stage's default; unset: the stage policy's own order (priority, sjf, run-fair), else oldest first. */
  request: policyName.optional(),
  /** Waiting this long raises a request's effective priority by one, so nothing starves. */
  aging_ms: positiveInt.default(2_000),
});

const server = z.strictObject({
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65_535).default(8080),
  /** Client keys: their calls belong to the tenant `default`. Any configured key turns authentication on. */
  api_keys: z.array(z.string()).default([]),
  /** Admin keys: the admin API (PATCH /v1/backends/…) and every tenant's runs; their own calls belong to the tenant `admin`. */
  admin_keys: z.array(z.string()).default([]),
  body_limit_mb: z.number().positive().default(32),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** On SIGTERM, how long in-flight requests may take to finish. */
  drain_timeout_s: z.number().nonnegative().default(30),
});

const memory = z.strictObject({
  policy: z.enum(['flush-per-request', 'flush-per-workflow', 'preserve']).default('flush-per-workflow'),
  /** A run with no call for this long is complete: its cache is released. */
  idle_ttl_s: z.number().positive().default(600),
  /** Runs kept for the workflow API (oldest evicted first). */
  max_runs: positiveInt.default(10_000),
  pressure: z
    .strictObject({
      high: z.number().gt(0).max(1).default(0.9),
      low: z.number().gt(0).max(1).default(0.75),
      /** How often engines' KV usage is scraped; 0 turns the monitor off. */
      interval_ms: z.number().int().nonnegative().default(2_000),
    })
    .default({ high: 0.9, low: 0.75, interval_ms: 2_000 }),
  /** Send a run's calls to the replica holding its prefix (false: always the least loaded replica). */
  affinity: z.boolean().default(true),
  /**
   * A run's warm replica is left for the least loaded one only when the imbalance is real: it has
   * both `affinity_load_margin` more requests in flight and `affinity_load_factor` times as many
   * (SGLang's router's balance thresholds, 64 and 1.5). A full replica is always left.
   */
  affinity_load_factor: z.number().min(1).default(1.5),
  affinity_load_margin: z.number().int().nonnegative().default(64),
});

/** A tenant: its keys, and its share of the gateway. */
const tenant = z.strictObject({
  keys: z.array(z.string()).default([]),
  /** Its requests in flight across the gateway; more wait (they are not refused), holding no backend slot. */
  max_concurrency: positiveInt.optional(),
  /** Its requests waiting (for its own limit or a backend's slot); past it: 429 with Retry-After. */
  queue_limit: z.number().int().nonnegative().optional(),
  /** Its share of a saturated backend against other tenants'. */
  weight: z.number().positive().default(1),
});

export const configSchema = z.strictObject({
  server: server.default(server.parse({})),
  backends: z.record(z.string(), backend),
  stages: z.record(z.string(), stage).default({}),
  scheduler: scheduler.default({ stage: 'priority', aging_ms: 2_000 }),
  memory: memory.default(memory.parse({})),
  /** Teams sharing the gateway: each key belongs to one, and a run to its tenant. `default` holds server.api_keys, `admin` server.admin_keys. */
  tenants: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a tenant name is 1 to 64 letters, digits, _ . or -'), tenant).default({}),
  ...mapperConfigKeys,
  ...variantConfigKeys,
  ...telemetryConfigKeys,
  ...stateConfigKeys,
});

export type Config = z.infer<typeof configSchema>;
export type BackendConfig = z.infer<typeof backend>;
export type StageConfig = z.infer<typeof stage>;
export type PriceConfig = z.infer<typeof price>;
export type FallbackConfig = z.infer<typeof fallback>;
export type SchedulerConfig = z.infer<typeof scheduler>;
export type MemoryConfig = z.infer<typeof memory>;
export type TenantConfig = z.infer<typeof tenant>;
