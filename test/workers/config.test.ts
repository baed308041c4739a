import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../config/load.js';
import { edgeConfig } from '../../gateway/workers/config.js';

// The Worker's config is the Node gateway's: the same text gives the same config, `${VAR}` read from
// the Worker's vars and secrets. (The Worker answers with these mistakes in worker.test.ts.)

const file = (path: string) => readFile(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('the Worker\'s ORLA_CONFIG', () => {
  it('the one in wrangler.toml loads, its key from a secret', async () => {
    const toml = await file('wrangler.toml');
    const text = /^ORLA_CONFIG = """\n([\s\S]*?)"""/m.exec(toml)?.[1];
    expect(text).toBeDefined();
    const config = edgeConfig({ ORLA_CONFIG: text, OPENAI_API_KEY: 'sk-from-a-secret' });
    expect(config.backends.main!.api_key).toBe('sk-from-a-secret');
  });

  it('a file that serves Node serves the Worker alike', async () => {
    const text = await file('deploy/sim/orla.yaml');
    const vars = { ORLA_API_KEY: 'sk-orla' };
    expect(edgeConfig({ ORLA_CONFIG: text, ...vars, RUNS: {} })).toEqual(parseConfig(text, { env: vars }));
  });

  it('names each mistake by key, as on Node, and what only a Worker cannot do', () => {
    const mistakes = (text: string | undefined) => {
      try {
        edgeConfig({ ORLA_CONFIG: text });
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    expect(mistakes(undefined)).toEqual([expect.stringMatching(/^ORLA_CONFIG: not set/)]);
    expect(mistakes('backends:\n  heavy: { engine: vllm, urls: [http://h:8000] }\nstages:\n  reply: { backend: hevy, model: m }\n  default: { backend: heavy, model: m }\n')).toEqual([
      expect.stringContaining('stages.reply.backend: unknown backend "hevy"'),
    ]);
    const edgeOnly = mistakes(
      ['backends:', '  local: { engine: simulator }', 'mappers:', '  tier: { kind: module, path: ./tier.mjs }', 'stages:', '  solve: { mapper: tier }', '  default: { backend: local, model: m, scheduler: ./mine.js }'].join('\n'),
    );
    expect(edgeOnly).toEqual([
      expect.stringMatching(/^backends\.local\.urls: required on Cloudflare Workers/),
      expect.stringMatching(/^stages\.default\.scheduler: a module path cannot be loaded/),
      expect.stringMatching(/^mappers\.tier\.kind: module mappers cannot be loaded/),
    ]);
  });
});
