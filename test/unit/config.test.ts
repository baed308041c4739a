import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../config/load.js';
import { defaultConfig } from '../../config/defaults.js';

const problemsOf = (text: string, env: Record<string, string> = {}) => {
  try {
    parseConfig(text, { env, simulatorProfiles: ['qwen3-8b-h100', 'instant'] });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected the config to be refused');
};

const GOOD = `
server: { port: 9000, api_keys: ["\${ORLA_API_KEY}"] }
backends:
  light: { engine: sglang, urls: [http://10.0.0.5:30000], api_key: "\${LIGHT_KEY}", price: { input_per_mtok: 0.05, output_per_mtok: 0.2 } }
  heavy: { engine: vllm, urls: [http://10.0.0.6:8000, http://10.0.0.7:8000] }
stages:
  classify: { backend: light, model: Qwen/Qwen3-4B, params: { temperature: 0 } }
  default: { backend: heavy, model: Qwen/Qwen3-8B }
`;

describe('config loading', () => {
  it('reads a good YAML file, takes ${VAR} from the environment and fills defaults', () => {
    const config = parseConfig(GOOD, { env: { ORLA_API_KEY: 'k1', LIGHT_KEY: 'secret' } });
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 9000, api_keys: ['k1'], body_limit_mb: 32 });
    expect(config.backends.light).toMatchObject({ engine: 'sglang', api_key: 'secret', max_concurrency: 64, queue_limit: 4096 });
    expect(config.backends.heavy!.urls).toHaveLength(2);
    expect(config.stages.classify).toMatchObject({ backend: 'light', model: 'Qwen/Qwen3-4B', params: { temperature: 0 }, weight: 1, fallbacks: [] });
  });

  it('reads JSON as well', () => {
    const config = parseConfig(JSON.stringify({ backends: { a: { engine: 'openai', urls: ['https://api.example.com/v1'] } } }));
    expect(config.backends.a!.engine).toBe('openai');
    expect(config.stages).toEqual({});
  });

  it('names an unknown backend with the known ones', () => {
    const problems = problemsOf(GOOD.replace('backend: heavy', 'backend: hevy'), { ORLA_API_KEY: 'k', LIGHT_KEY: 'x' });
    expect(problems).toEqual(['stages.default.backend: unknown backend "hevy" (known: light, heavy)']);
  });

  it('refuses a priority order the engine cannot have', () => {
    const file = (engine: string, order: string) => `backends:\n  a: { engine: ${engine}, urls: [http://e:1], priority_scheduling: true, priority_order: ${order} }\n`;
    expect(problemsOf(file('vllm', 'higher_first'))).toEqual(['backends.a.priority_order: engine vllm always serves lower priority values first']);
    expect(problemsOf(file('sglang', 'upside_down'))[0]).toMatch(/^backends\.a\.priority_order: /);
    expect(parseConfig(file('sglang', 'lower_first')).backends.a!.priority_order).toBe('lower_first');
  });

  it('refuses an unset environment variable, naming the key, unless a fallback is written', () => {
    expect(problemsOf(GOOD, { LIGHT_KEY: 'x' })).toEqual([
      'server.api_keys[0]: environment variable ORLA_API_KEY is not set (write ${ORLA_API_KEY:-} to allow it to be empty)',
    ]);
    const config = parseConfig(GOOD.replace('${ORLA_API_KEY}', '${ORLA_API_KEY:-}'), { env: { LIGHT_KEY: 'x' } });
    expect(config.server.api_keys).toEqual([]); // an empty key never authenticates anyone
  });

  describe('${VAR} from the environment', () => {
    const SIM = 'backends:\n  a: { engine: simulator }\n';
    const load = (text: string, env: Record<string, string> = {}) => parseConfig(text + SIM, { env });

    it('falls back on :- when the variable is unset or empty, as a shell does', () => {
      expect(load('server:\n  port: ${PORT:-9000}\n', { PORT: '' }).server.port).toBe(9000);
      expect(load('server:\n  api_keys: ["${KEY:-k}"]\n', { KEY: '' }).server.api_keys).toEqual(['k']);
      expect(load('server:\n  api_keys: ["x${KEY}y"]\n', { KEY: '' }).server.api_keys).toEqual(['xy']); // no fallback: stays empty
    });

    it('gives a value that is exactly one reference the number or boolean YAML reads from its text', () => {
      expect(load('server:\n  port: ${PORT:-9000}\n').server.port).toBe(9000);
      expect(load('server:\n  port: ${PORT:-9000}\n', { PORT: '9001' }).server.port).toBe(9001);
      expect(load('server: { port: "${PORT}" }\n', { PORT: '9002' }).server.port).toBe(9002); // quoted, as JSON must
      expect(load('memory:\n  affinity: ${AFFINITY}\n  pressure: { high: "${HIGH}" }\n', { AFFINITY: 'false', HIGH: '0.8' }).memory)
        .toMatchObject({ affinity: false, pressure: { high: 0.8 } });
      const stage = load('stages:\n  s: { backend: a, params: { temperature: "${T}" } }\n', { T: '0.5' }).stages.s!;
      expect(stage.params).toEqual({ temperature: 0.5 });
    });

    it('keeps a string where the schema wants one, and never reads a value as YAML syntax', () => {
      const config = load('server:\n  api_keys: ["${K}"]\nstages:\n  s: { backend: a, model: "${M}" }\n', { K: '12345', M: 'true' });
      expect(config.server.api_keys).toEqual(['12345']);
      expect(config.stages.s!.model).toBe('true');
      for (const secret of ['a: b', 'x # y', ']', '[1, 2]', '{a: 1}', '"q"', '- 1', '9000 # x', '~', 'null']) {
        expect(load('server:\n  api_keys: ["${K}"]\n', { K: secret }).server.api_keys).toEqual([secret]);
      }
      expect(problemsOf('server:\n  port: ${PORT}\n' + SIM, { PORT: '9000 # x' })).toEqual(['server.port: expected number, received string']);
      expect(problemsOf('server:\n  port: ${PORT}\n' + SIM, { PORT: '99999' })[0]).toMatch(/^server\.port: too big/i);
      expect(problemsOf('server:\n  port: "${PORT}0"\n' + SIM, { PORT: '90' })).toEqual(['server.port: expected number, received string']);
    });

    it('reads a reference in a fallback only when the variable is unset', () => {
      const keys = (env: Record<string, string>, ref = '${A:-${B}}') => load(`server:\n  api_keys: ["${ref}"]\n`, env).server.api_keys;
      expect(keys({ A: 'x', B: 'y' })).toEqual(['x']);
      expect(keys({ A: 'x' })).toEqual(['x']);
      expect(keys({ B: 'y' })).toEqual(['y']);
      expect(keys({}, '${A:-${B:-z}}!')).toEqual(['z!']);
      expect(keys({}, 'p-${A:-q${B:-r}s}-t')).toEqual(['p-qrs-t']);
      expect(load('server:\n  port: ${A:-${B:-9003}}\n').server.port).toBe(9003);
      expect(problemsOf('server:\n  api_keys: ["${A:-${B}}"]\n' + SIM)).toEqual([
        'server.api_keys[0]: environment variable B is not set (write ${B:-} to allow it to be empty)',
      ]);
    });

    it('writes a literal ${ as $${, and refuses a malformed reference by key', () => {
      const keys = (ref: string) => load(`server:\n  api_keys: ["${ref}"]\n`, { A: 'x' }).server.api_keys;
      expect(keys('pa$${A}ss')).toEqual(['pa${A}ss']);
      expect(keys('$${A}')).toEqual(['${A}']);
      expect(keys('a$$b$')).toEqual(['a$$b$']); // only $${ is an escape
      expect(keys('${A:-$${B}}')).toEqual(['x']);
      expect(load('server:\n  api_keys: ["${B:-$${B}}"]\n').server.api_keys).toEqual(['${B}']);
      expect(problemsOf('server:\n  api_keys: ["${1A}"]\n' + SIM)[0]).toMatch(/^server\.api_keys\[0\]: .*write \$\$\{ for a literal/);
      expect(problemsOf('server:\n  api_keys: ["${A-b}"]\n' + SIM, { A: 'x' })[0]).toMatch(/^server\.api_keys\[0\]: \$\{A must be followed by \}/);
      expect(problemsOf('server:\n  api_keys: ["${A:-${B}"]\n' + SIM, { A: 'x' })[0]).toMatch(/^server\.api_keys\[0\]: .*not closed/);
    });

    it('never expands a value from the environment again', () => {
      const keys = (K: string) => load('server:\n  api_keys: ["${K}", "k-${K}"]\n', { K, B: 'no' }).server.api_keys;
      expect(keys('${B}')).toEqual(['${B}', 'k-${B}']);
      expect(keys('$${B}')).toEqual(['$${B}', 'k-$${B}']);
      expect(problemsOf('server:\n  port: ${P}\n' + SIM, { P: '${Q}', Q: '1' })).toEqual(['server.port: expected number, received string']);
    });

    it('says to quote a ${VAR} inside a flow collection', () => {
      expect(problemsOf('backends: { a: { engine: simulator, max_concurrency: ${MC} } }', { MC: '8' })[0]).toMatch(/must be quoted/);
    });
  });

  it('names misspelt keys, wrong types and bad values by path', () => {
    const problems = problemsOf(`
backends:
  a: { engine: vllm, urls: [http://x:1], max_concurency: 3 }
  b: { engine: tgi, urls: [http://x:2] }
  c: { engine: vllm, urls: ["not a url"] }
  d: { engine: vllm, urls: [http://x:3], max_concurrency: -1 }
stages:
  s: { backend: a, params: "hot" }
`);
    expect(problems).toContain('backends.a.max_concurency: unknown key');
    expect(problems.find((p) => p.startsWith('backends.b.engine:'))).toMatch(/vllm/);
    expect(problems.find((p) => p.startsWith('backends.c.urls[0]:'))).toBeDefined();
    expect(problems.find((p) => p.startsWith('backends.d.max_concurrency:'))).toBeDefined();
    expect(problems.find((p) => p.startsWith('stages.s.params:'))).toBeDefined();
  });

  it('reads the state section: ${VAR} in the Redis URL, defaults, and its problems by path, never quoting a password', () => {
    const backends = 'backends: { a: { engine: vllm, urls: [http://10.0.0.5:8000] } }\n';
    const config = parseConfig(`${backends}state: { store: redis, url: "\${ORLA_REDIS_URL}" }\n`, { env: { ORLA_REDIS_URL: 'redis://:pw@10.0.0.9:6379/2' } });
    expect(config.state).toEqual({ store: 'redis', url: 'redis://:pw@10.0.0.9:6379/2', key_prefix: 'orla:', timeout_ms: 100, heartbeat_ms: 1000, lease_ms: 5000 });
    expect(parseConfig(backends).state.store).toBe('memory');
    expect(problemsOf(`${backends}state: { store: redis }`)).toEqual(['state.url: required with store: redis (redis://host:6379/0)']);
    const bad = problemsOf(`${backends}state: { store: redis, url: "redis://:hunter2@10.0.0.9:6379/db", heartbeat_ms: 1000, lease_ms: 1500 }`);
    expect(bad).toContain('state.url: not a redis:// or rediss:// URL with a database number: "redis://:***@10.0.0.9:6379/db"');
    expect(bad.join('\n')).not.toContain('hunter2');
    expect(bad.find((p) => p.startsWith('state.lease_ms:'))).toMatch(/at least twice heartbeat_ms/);
    expect(problemsOf(`${backends}state: { store: etcd }`)[0]).toMatch(/^state\.store:/);
  });

  it('requires urls for a real engine, and checks an in-process simulator\'s profile', () => {
    expect(problemsOf('backends: { a: { engine: vllm } }')).toEqual(['backends.a.urls: required for engine vllm']);
    expect(problemsOf('backends: { a: { engine: simulator, profile: h200 } }')).toEqual([
      'backends.a.profile: unknown profile "h200" (known: qwen3-8b-h100, instant)',
    ]);
    expect(problemsOf('backends: {}')).toEqual(['backends: at least one backend is needed']);
  });

  it('says when the file is not YAML at all, or not a mapping', () => {
    expect(problemsOf('backends: [a, b')[0]).toMatch(/^not valid YAML or JSON/);
    expect(problemsOf('- just a list')).toEqual(['the file must hold a mapping with at least `backends`']);
    expect(problemsOf('server: { port: 80 }')).toEqual(['backends: is required']);
  });

  it('embeds the customer-support default: classify on the light simulator, the rest on the heavy one', () => {
    const config = defaultConfig();
    expect(config.backends.light).toMatchObject({ engine: 'simulator', profile: 'qwen3-4b-h100' });
    expect(config.backends.heavy).toMatchObject({ engine: 'simulator', profile: 'qwen3-8b-h100' });
    const backendOf = Object.fromEntries(Object.entries(config.stages).map(([s, v]) => [s, v.backend]));
    expect(backendOf).toEqual({ classify: 'light', policy_check: 'heavy', route_ticket: 'heavy', reply: 'heavy', default: 'heavy' });
  });
});

describe('the README', () => {
  it('shows only configurations that load', async () => {
    const { readFile } = await import('node:fs/promises');
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const examples = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((y) => y.includes('backends:') && y.includes('stages:'));
    expect(examples.length).toBeGreaterThanOrEqual(4);
    for (const example of examples) {
      expect(() => parseConfig(example, { env: { ORLA_API_KEY: 'k1', ORLA_ADMIN_KEY: 'k3', LIGHT_KEY: 'k2' } }), example.slice(0, 80)).not.toThrow();
    }
  });
});
