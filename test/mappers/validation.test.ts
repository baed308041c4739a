import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../config/load.js';
import { describeStage } from '../../config/mappers.js';
import { mappingConfig } from './helpers.js';

// Every mistake in stage mapping stops the start with `path: why`.

const onebit = {
  kind: 'onebit',
  classifier: { backend: 'light', model: 'Qwen/Qwen3-4B' },
  simple: { backend: 'light', model: 'Qwen/Qwen3-4B' },
  complex: { backend: 'heavy', model: 'Qwen/Qwen3-8B' },
};

function config(over: { backends?: object; mappers?: object; stages?: object } = {}) {
  return {
    backends: { light: { engine: 'sglang', urls: ['http://10.0.0.5:30000'] }, heavy: { engine: 'vllm', urls: ['http://10.0.0.6:8000'] }, ...over.backends },
    mappers: over.mappers ?? { route: onebit },
    stages: over.stages ?? { solve: { mapper: 'route' }, default: { backend: 'heavy', model: 'Qwen/Qwen3-8B' } },
  };
}

/** The problems a config has, or [] when it is valid. */
function problems(raw: object): string[] {
  try {
    mappingConfig(raw as Record<string, unknown>);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('stage mapping validation', () => {
  it('accepts a valid config, with the defaults filled in', () => {
    expect(problems(config())).toEqual([]);
    const route = mappingConfig(config()).mappers.route!;
    expect(route).toMatchObject({ fallback: 'complex', prompt: 'general', reads: 'user', max_content_chars: 4000, cache_size: 10_000, classifier: { timeout_ms: 2000, max_tokens: 16 } });
  });

  it.each<[string, object, string | RegExp]>([
    ['a stage naming an unknown mapper', config({ stages: { solve: { mapper: 'onebt' } } }), 'stages.solve.mapper: unknown mapper "onebt" (known: route)'],
    ['a mapper stage without any mappers', config({ mappers: {}, stages: { solve: { mapper: 'route' } } }), 'stages.solve.mapper: unknown mapper "route" (no `mappers` are configured)'],
    ['a stage with both a backend and a mapper', config({ stages: { solve: { backend: 'heavy', mapper: 'route' } } }), 'stages.solve: set either `backend` or `mapper`, not both'],
    ['a stage with neither', config({ stages: { solve: { model: 'x' } } }), /^stages\.solve\.backend: is required/],
    ['a model on a mapper stage', config({ stages: { solve: { mapper: 'route', model: 'x' } } }), 'stages.solve.model: a stage with a mapper takes its model from the mapper'],
    ['an unknown classifier backend', config({ mappers: { route: { ...onebit, classifier: { backend: 'lite', model: 'm' } } } }), 'mappers.route.classifier.backend: unknown backend "lite" (known: light, heavy)'],
    ['an unknown simple backend', config({ mappers: { route: { ...onebit, simple: { backend: 'lite' } } } }), 'mappers.route.simple.backend: unknown backend "lite" (known: light, heavy)'],
    ['an unknown complex backend', config({ mappers: { route: { ...onebit, complex: { backend: 'hevy' } } } }), 'mappers.route.complex.backend: unknown backend "hevy" (known: light, heavy)'],
    ['an unknown cost candidate', config({ mappers: { c: { kind: 'cost', candidates: [{ backend: 'gpu' }] } }, stages: { default: { mapper: 'c' } } }), 'mappers.c.candidates[0].backend: unknown backend "gpu" (known: light, heavy)'],
    ['a model in a side\'s params', config({ mappers: { route: { ...onebit, simple: { backend: 'light', params: { model: 'x' } } } } }), 'mappers.route.simple.params.model: set the model with `model`, not in params'],
    ['the classifier\'s response_format', config({ mappers: { route: { ...onebit, classifier: { backend: 'light', model: 'm', params: { response_format: { type: 'text' } } } } } }), "mappers.route.classifier.params.response_format: OneBit sets the classifier's response_format itself"],
    ['a cost candidate without price or quality', config({ mappers: { c: { kind: 'cost', candidates: [{ backend: 'light' }] } }, stages: { default: { mapper: 'c' } } }), 'mappers.c.candidates[0].backend: backend light needs a `price` and a `quality` for the cost mapper'],
    ['an unknown threshold score', config({ mappers: { t: { kind: 'threshold', threshold: 5, score: 'tokens', simple: { backend: 'light' }, complex: { backend: 'heavy' } } }, stages: { default: { mapper: 't' } } }), 'mappers.t.score: unknown score "tokens" (known: prompt_tokens, or a module path such as ./score.js)'],
    ['priority where the backend does not schedule by it', config({ stages: { default: { backend: 'heavy', params: { priority: 3 } } } }), 'stages.default.params.priority: backend heavy does not run priority scheduling (set backends.heavy.priority_scheduling: true), so the field would be dropped'],
    ['priority on an engine without it', config({ backends: { cpp: { engine: 'llamacpp', urls: ['http://h:1'] } }, stages: { default: { backend: 'cpp', params: { priority: 3 } } } }), 'stages.default.params.priority: engine llamacpp (backend cpp) has no request priority'],
    ['a mapper stage\'s params that one side cannot take', config({ stages: { solve: { mapper: 'route', params: { priority: 1 } } } }), /^stages\.solve\.params\.priority: backend light does not run priority scheduling/],
    ['an engine extension sent to OpenAI', config({ backends: { api: { engine: 'openai', urls: ['https://api.openai.com/v1'] } }, stages: { default: { backend: 'api', params: { top_k: 20 } } } }), 'stages.default.params.top_k: engine openai (backend api) does not take top_k (it is for vllm, sglang, llamacpp, simulator)'],
    ['a vLLM-only field sent to SGLang', config({ stages: { default: { backend: 'light', params: { guided_json: {} } } } }), 'stages.default.params.guided_json: engine sglang (backend light) does not take guided_json (it is for vllm, simulator)'],
    ['a response_format of an unknown type', config({ stages: { default: { backend: 'heavy', params: { response_format: { type: 'xml' } } } } }), 'stages.default.params.response_format.type: must be text, json_object or json_schema'],
    ['a json_schema response_format without its schema', config({ stages: { default: { backend: 'heavy', params: { response_format: { type: 'json_schema', json_schema: { name: 'x' } } } } } }), 'stages.default.params.response_format.json_schema.schema: is required (a JSON schema object)'],
    ['a fallback\'s params that its engine cannot take', config({ stages: { default: { backend: 'heavy', fallbacks: [{ backend: 'light', params: { guided_json: {} } }] } } }), 'stages.default.fallbacks[0].params.guided_json: engine sglang (backend light) does not take guided_json (it is for vllm, simulator)'],
    ['an unknown mapper kind', config({ mappers: { x: { kind: 'twobit' } } }), /^mappers\.x\.kind: /],
    ['a onebit mapper without a classifier', config({ mappers: { route: { ...onebit, classifier: undefined } } }), /^mappers\.route\.classifier: /],
    ['a misspelt mapper key', config({ mappers: { route: { ...onebit, fallbak: 'simple' } } }), /mappers\.route.*fallbak/],
    ['a fallback side that is neither simple nor complex', config({ mappers: { route: { ...onebit, fallback: 'light' } } }), /^mappers\.route\.fallback: /],
    ['a quality above 1', config({ backends: { light: { engine: 'sglang', urls: ['http://h:1'], quality: 1.5 } } }), /^backends\.light\.quality: /],
  ])('rejects %s', (_name, raw, expected) => {
    const found = problems(raw);
    if (typeof expected === 'string') expect(found).toContain(expected);
    else expect(found.some((p) => expected.test(p)), found.join('\n')).toBe(true);
  });

  it('accepts priority where the backend schedules by it', () => {
    expect(problems(config({ backends: { heavy: { engine: 'vllm', urls: ['http://h:1'], priority_scheduling: true } }, stages: { default: { backend: 'heavy', params: { priority: 3 } } } }))).toEqual([]);
  });
});

describe('describing a stage', () => {
  it('says where an explicit stage and each kind of mapper stage send requests', () => {
    const c = mappingConfig(
      config({
        mappers: {
          route: onebit,
          size: { kind: 'threshold', threshold: 2000, simple: { backend: 'light' }, complex: { backend: 'heavy', model: 'Qwen/Qwen3-8B' } },
        },
        stages: { solve: { mapper: 'route' }, triage: { mapper: 'size' }, default: { backend: 'heavy', model: 'Qwen/Qwen3-8B' } },
      }),
    );
    expect(describeStage(c.stages.default!, c.mappers)).toBe('heavy · model Qwen/Qwen3-8B');
    expect(describeStage(c.stages.solve!, c.mappers)).toBe(
      'mapper route (onebit, asks light · model Qwen/Qwen3-4B): simple → light · model Qwen/Qwen3-4B; complex → heavy · model Qwen/Qwen3-8B; undecided → complex',
    );
    expect(describeStage(c.stages.triage!, c.mappers)).toBe("mapper size (prompt_tokens < 2000): → light · model (the client's); else → heavy · model Qwen/Qwen3-8B");
  });
});
