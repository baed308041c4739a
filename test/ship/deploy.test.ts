import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

// The deployment files as a user runs them: each path's config passes `orla check`, and compose.yaml
// holds together (every gateway mounts a config that exists, engines serve the models their config
// names with the flags Orla needs, nothing is published beyond 127.0.0.1). Docker itself runs them in
// .ci/docker-smoke.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(`${ROOT}/${path}`, 'utf8');
const orlaCheck = (config: string, env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'check', '--config', config], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, ORLA_CONFIG: '', ...env },
  });

interface Service {
  image?: string;
  build?: unknown;
  profiles?: string[];
  command?: string[];
  entrypoint?: string[];
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test?: string[]; disable?: boolean };
  depends_on?: Record<string, { condition: string }>;
  extends?: { file: string; service: string };
  environment?: Record<string, string>;
}
const compose = parseYaml(read('compose.yaml'), { merge: true }) as { services: Record<string, Service>; [key: string]: unknown };
const services = Object.entries(compose.services);
const inProfile = (profile: string) => services.filter(([, s]) => s.profiles?.includes(profile));
const engineFile = (engine: string) => parseYaml(read(`deploy/gpu/${engine}.yaml`), { merge: true }) as { services: Record<string, Service> };
/** Stage → model of a deploy config, read as the gateway reads it. */
const stageModels = (path: string) => {
  const config = parseYaml(read(path)) as { stages: Record<string, { model?: string }> };
  return new Set(Object.values(config.stages).map((s) => s.model).filter((m): m is string => m !== undefined));
};

describe('each deploy path has a config orla check accepts', () => {
  const cases: [string, string, Record<string, string>, string][] = [
    ['sim', 'deploy/sim/orla.yaml', {}, 'light: simulator · http://sim-light:8000'],
    ['gpu on vLLM', 'deploy/gpu/orla.yaml', {}, 'light: vllm · http://engine-light:8000'],
    ['gpu on SGLang', 'deploy/gpu/orla.yaml', { ORLA_ENGINE: 'sglang' }, 'heavy: sglang · http://engine-heavy:8000'],
    ['laptop', 'deploy/laptop/orla.yaml', {}, 'heavy: ollama · http://ollama:11434'],
    ['fleet', 'deploy/fleet/orla.yaml', {}, 'state: redis · redis://redis:6379/0'],
  ];
  for (const [name, config, env, backendLine] of cases) {
    it(name, () => {
      const run = orlaCheck(config, env);
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(run.stdout).toContain(`config ok: ${config}`);
      expect(run.stdout).toContain(backendLine);
    });
  }

  it('an engine other than vllm or sglang in ORLA_ENGINE is a config mistake', () => {
    const run = orlaCheck('deploy/gpu/orla.yaml', { ORLA_ENGINE: 'tgi' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('backends.light.engine');
  });
});

describe('compose.yaml', () => {
  it('has a gateway for the sim, gpu and laptop profiles, each mounting its path\'s config where the image reads it', () => {
    for (const path of ['sim', 'gpu', 'laptop']) {
      const gateways = inProfile(path).filter(([name]) => name.startsWith('gateway'));
      expect(gateways.map(([name]) => name)).toEqual([`gateway-${path}`]);
      const [, gateway] = gateways[0]!;
      expect(gateway.volumes).toContain(`./deploy/${path}/orla.yaml:/etc/orla/orla.yaml:ro`);
      expect(existsSync(`${ROOT}/deploy/${path}/orla.yaml`)).toBe(true);
      expect(gateway.build).toBe('.');
    }
    expect(inProfile('observe').map(([name]) => name).sort()).toEqual(['grafana', 'jaeger', 'prometheus']);
  });

  it('has two gateways for the fleet profile, on one config, one Redis and the sim engines with a second heavy replica', () => {
    const gateways = inProfile('fleet').filter(([name]) => name.startsWith('gateway'));
    expect(gateways.map(([name]) => name)).toEqual(['gateway-fleet-1', 'gateway-fleet-2']);
    for (const [, gateway] of gateways) {
      expect(gateway.volumes).toEqual(['./deploy/fleet/orla.yaml:/etc/orla/orla.yaml:ro']);
      expect(Object.keys(gateway.depends_on as object).sort()).toEqual(['redis', 'sim-heavy', 'sim-heavy-2', 'sim-light']);
    }
    expect(gateways.map(([, g]) => g.ports)).toEqual([['127.0.0.1:${ORLA_PORT:-8080}:8080'], ['127.0.0.1:${ORLA_PORT_2:-8081}:8080']]);
    expect(inProfile('fleet').map(([name]) => name).sort()).toEqual(['gateway-fleet-1', 'gateway-fleet-2', 'redis', 'sim-heavy', 'sim-heavy-2', 'sim-light']);
    const config = parseYaml(read('deploy/fleet/orla.yaml')) as { backends: { heavy: { urls: string[] } }; state: { store: string; url: string } };
    expect(config.backends.heavy.urls).toEqual(['http://sim-heavy:8000', 'http://sim-heavy-2:8000']);
    expect(config.state).toMatchObject({ store: 'redis', url: '${ORLA_REDIS_URL:-redis://redis:6379/0}' });
  });

  it('publishes ports on 127.0.0.1 only', () => {
    const published = services.flatMap(([name, s]) => (s.ports ?? []).map((p) => [name, p] as const));
    expect(published.length).toBeGreaterThan(0);
    for (const [name, port] of published) expect(`${name} ${port}`).toMatch(/^\S+ 127\.0\.0\.1:/);
  });

  it('gives every service run from the orla image besides the gateways its own health check (the image\'s probes the gateway port)', () => {
    const engines = services.filter(([name, s]) => s.build === '.' && !name.startsWith('gateway'));
    expect(engines.map(([name]) => name).sort()).toEqual(['sim-heavy', 'sim-heavy-2', 'sim-light']);
    for (const [, s] of engines) {
      expect(s.healthcheck?.test?.join(' ')).toContain('http://127.0.0.1:8000/health');
      expect(s.command).toEqual(expect.arrayContaining(['sim', '--host', '0.0.0.0', '--port', '8000']));
    }
  });

  it('starts each gateway after what it serves from is healthy (the laptop one after the models are pulled)', () => {
    expect(compose.services['gateway-sim']!.depends_on).toEqual({ 'sim-light': { condition: 'service_healthy' }, 'sim-heavy': { condition: 'service_healthy' } });
    expect(compose.services['gateway-gpu']!.depends_on).toEqual({ 'engine-light': { condition: 'service_healthy' }, 'engine-heavy': { condition: 'service_healthy' } });
    expect(compose.services['gateway-laptop']!.depends_on).toEqual({ 'ollama-pull': { condition: 'service_completed_successfully' } });
    // One engine at a time on the GPU: each sizes its memory from what it finds free.
    expect(compose.services['engine-heavy']!.depends_on).toEqual({ 'engine-light': { condition: 'service_healthy' } });
  });

  it('uses nothing docker-compose 1.29 rejects', () => {
    expect(compose).not.toHaveProperty('name');
    expect(compose).not.toHaveProperty('include');
    const text = read('compose.yaml') + read('deploy/gpu/vllm.yaml') + read('deploy/gpu/sglang.yaml');
    expect(text).not.toMatch(/^\s*(gpus|start_interval|required):/m);
  });

  it('pulls the models the laptop config maps its stages to', () => {
    const pulled = new Set([...compose.services['ollama-pull']!.command!.join(' ').matchAll(/ollama pull (\S+)/g)].map((m) => m[1]));
    expect(pulled).toEqual(stageModels('deploy/laptop/orla.yaml'));
  });
});

describe('the gpu engines', () => {
  const gpuModels = stageModels('deploy/gpu/orla.yaml');
  const served = (engine: string, s: Service) => (engine === 'vllm' ? s.command![0]! : s.command!.find((a) => a.startsWith('--model-path='))!.slice('--model-path='.length));
  const needs: Record<string, string[]> = {
    vllm: ['--scheduling-policy=priority', '--enable-prompt-tokens-details', '--enable-auto-tool-choice', '--tool-call-parser=hermes', '--host=0.0.0.0', '--port=8000'],
    sglang: ['--enable-priority-scheduling', '--enable-metrics', '--enable-cache-report', '--tool-call-parser=qwen25', '--host=0.0.0.0', '--port=8000'],
  };
  const memoryFlag: Record<string, string> = { vllm: '--gpu-memory-utilization=', sglang: '--mem-fraction-static=' };

  for (const engine of ['vllm', 'sglang']) {
    it(`${engine}: light serves Qwen3-4B and heavy Qwen3-8B, the models the gpu config names, with the flags Orla needs`, () => {
      const { services: engines } = engineFile(engine);
      expect(Object.keys(engines).sort()).toEqual(['heavy', 'light']);
      expect(served(engine, engines.light!)).toBe('Qwen/Qwen3-4B');
      expect(served(engine, engines.heavy!)).toBe('Qwen/Qwen3-8B');
      expect(new Set([served(engine, engines.light!), served(engine, engines.heavy!)])).toEqual(gpuModels);
      for (const s of Object.values(engines)) {
        expect(s.command).toEqual(expect.arrayContaining(needs[engine]!));
        const fraction = Number(s.command!.find((a) => a.startsWith(memoryFlag[engine]!))!.split('=')[1]);
        expect(fraction).toBeGreaterThan(0);
        expect(fraction).toBeLessThan(1);
        expect(s.healthcheck?.test?.join(' ')).toContain('127.0.0.1:8000/health');
      }
    });
  }

  it('vLLM\'s two engines together leave GPU memory spare (its fraction is of the whole GPU)', () => {
    const { services: engines } = engineFile('vllm');
    const total = Object.values(engines)
      .map((s) => Number(s.command!.find((a) => a.startsWith('--gpu-memory-utilization='))!.split('=')[1]))
      .reduce((a, b) => a + b, 0);
    expect(total).toBeLessThanOrEqual(0.9);
  });

  it('compose picks the engine file by ORLA_ENGINE (default vllm) for both engine services', () => {
    for (const name of ['engine-light', 'engine-heavy']) {
      expect(compose.services[name]!.extends!.file).toBe('deploy/gpu/${ORLA_ENGINE:-vllm}.yaml');
      expect(compose.services[name]!.profiles).toEqual(['gpu']);
    }
    expect(compose.services['gateway-gpu']!.environment!.ORLA_ENGINE).toBe('${ORLA_ENGINE:-vllm}');
  });
});
