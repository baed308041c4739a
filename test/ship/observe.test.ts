import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { defaultConfig } from '../../config/defaults.js';
import type { RunningGateway } from '../../gateway/server.js';
import { tracingSettings } from '../../gateway/tracing/settings.js';
import { startTestGateway } from '../helpers/gateway.js';

// The observe profile: Prometheus scrapes the gateway, and every query on the provisioned Grafana
// dashboard asks for a metric the gateway exports, by labels that metric has.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(`${ROOT}/${path}`, 'utf8');

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
  datasource?: { uid: string };
}
const dashboard = JSON.parse(read('deploy/observe/grafana/dashboards/orla.json')) as { uid: string; panels: Panel[] };
const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

let gateway: RunningGateway;
/** Metric family → its type, and → the label names its samples carry (families with samples only). */
const families = new Map<string, string>();
const labelsOf = new Map<string, Set<string>>();

beforeAll(async () => {
  const config = defaultConfig();
  gateway = await startTestGateway({ ...config, server: {} });
  const completion = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-orla-stage': 'classify' },
    body: JSON.stringify({ model: 'any', messages: [{ role: 'user', content: 'hello' }], max_tokens: 3 }),
  });
  expect(completion.status).toBe(200);
  await completion.arrayBuffer();
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) families.set(type[1]!, type[2]!);
    const sample = /^([a-z_:]+)\{([^}]*)\}/.exec(line);
    if (sample) {
      const names = labelsOf.get(sample[1]!) ?? new Set<string>();
      for (const [, name] of sample[2]!.matchAll(/(\w+)="/g)) names.add(name!);
      labelsOf.set(sample[1]!, names);
    }
  }
});
afterAll(() => gateway?.close());

describe('the Grafana dashboard', () => {
  it('covers requests, latency, queue wait, cache actions and cost, per stage and backend', () => {
    const all = queries.map((q) => q.expr).join('\n');
    for (const metric of ['orla_requests_total', 'orla_request_duration_seconds_bucket', 'orla_queue_wait_seconds_bucket', 'orla_cache_actions_total', 'orla_cost_usd_total']) {
      expect(all).toContain(metric);
    }
    expect(all).toMatch(/by \(stage, backend\)/);
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) expect(panel.datasource?.uid).toBe('prometheus');
  });

  it('asks only for metrics the gateway exports, grouped and filtered by labels they carry', () => {
    expect(queries.length).toBeGreaterThan(10);
    for (const { panel, expr } of queries) {
      const metrics = [...new Set(expr.match(/orla_[a-z_]+/g))];
      expect(metrics, panel).toHaveLength(1);
      const metric = metrics[0]!;
      const family = metric.replace(/_(bucket|sum|count)$/, '');
      expect(families.has(family), `${panel}: ${metric}`).toBe(true);
      const used = new Set([
        ...[...expr.matchAll(/by \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim())),
        ...[...expr.matchAll(/(\w+)(?:=~|!~|!=|=)"/g)].map((m) => m[1]!),
      ]);
      const known = labelsOf.get(metric);
      if (!known) continue; // no sample yet (nothing rejected, cached or mapped): the family check above stands
      for (const label of used) expect(known.has(label), `${panel}: ${metric} has no label ${label}`).toBe(true);
    }
  });
});

describe('Prometheus', () => {
  it('scrapes every gateway at the alias each gateway service answers to (both of the fleet\'s)', () => {
    const prometheus = parseYaml(read('deploy/observe/prometheus.yml')) as { scrape_configs: { metrics_path: string; dns_sd_configs: { names: string[]; type: string; port: number }[] }[] };
    const [job] = prometheus.scrape_configs;
    expect(job!.metrics_path).toBe('/metrics');
    expect(job!.dns_sd_configs).toEqual([{ names: ['gateway'], type: 'A', port: 8080 }]);
    const compose = parseYaml(read('compose.yaml'), { merge: true }) as { services: Record<string, { networks?: { default?: { aliases?: string[] } } }> };
    for (const name of ['gateway-sim', 'gateway-gpu', 'gateway-laptop', 'gateway-fleet-1', 'gateway-fleet-2']) {
      expect(compose.services[name]!.networks?.default?.aliases).toContain('gateway');
    }
  });

  it('is Grafana\'s provisioned datasource, under the uid the dashboard uses', () => {
    const provisioned = parseYaml(read('deploy/observe/grafana/provisioning/datasources/prometheus.yaml')) as { datasources: { uid: string; url: string }[] };
    expect(provisioned.datasources).toEqual([expect.objectContaining({ uid: 'prometheus', url: 'http://prometheus:9090' })]);
  });
});

describe('Jaeger, the trace viewer', () => {
  interface Service { image?: string; profiles?: string[]; command?: string[]; ports?: string[]; environment?: Record<string, string> }
  const compose = parseYaml(read('compose.yaml'), { merge: true }) as { services: Record<string, Service> };
  /** A compose value with its variables as compose resolves them, given `vars` (`${X-default}`: unset only; `${X:-default}`: unset or empty). */
  const resolve = (value: string, vars: Record<string, string>) =>
    value.replace(/\$\{(\w+)(:?)-([^}]*)\}/g, (_, name: string, colon: string, fallback: string) => {
      const set = vars[name];
      return set === undefined || (colon && set === '') ? fallback : set;
    });
  const gateways = ['gateway-sim', 'gateway-fleet-1', 'gateway-fleet-2', 'gateway-gpu', 'gateway-laptop'];

  it('runs in the observe profile, taking OTLP/HTTP on 4318 from the compose network, its UI on 127.0.0.1:16686', () => {
    const jaeger = compose.services.jaeger!;
    expect(jaeger.profiles).toEqual(['observe']);
    expect(jaeger.image).toMatch(/jaegertracing\/jaeger:2\.\d+\.\d+\}$/); // v2, pinned
    expect(jaeger.command).toEqual(expect.arrayContaining(['--set', 'receivers.otlp.protocols.http.endpoint=0.0.0.0:4318']));
    expect(jaeger.ports).toEqual(['127.0.0.1:16686:16686']);
  });

  it("is where every gateway's traces go: tracing on, exporting to jaeger:4318, unless ORLA_TRACES_ENDPOINT says otherwise", () => {
    for (const name of gateways) {
      const environment = compose.services[name]!.environment!;
      const env = (vars: Record<string, string>) => Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, resolve(v, vars)]));
      expect(tracingSettings(undefined, env({})), name).toMatchObject({ endpoint: 'http://jaeger:4318/v1/traces', protocol: 'http/protobuf', sampleRatio: 1 });
      expect(tracingSettings(undefined, env({ ORLA_TRACES_ENDPOINT: '' })), `${name}, ORLA_TRACES_ENDPOINT empty`).toBeUndefined();
      expect(tracingSettings(undefined, env({ ORLA_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }))?.endpoint).toBe('http://collector:4318/v1/traces');
    }
    expect(compose.services['gateway-gpu']!.environment!.ORLA_ENGINE).toBe('${ORLA_ENGINE:-vllm}'); // the gpu gateway keeps its own variable
  });
});
