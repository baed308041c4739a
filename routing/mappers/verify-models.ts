import { mappedSides, type MappingConfig } from '../../config/mappers.js';
import { authorization, engineOf } from '../../upstream/engines/index.js';
import type { AdmissionBackend } from '../admission-backend.js';

/**
 * `verify_models: true`: asks every replica of every backend the config names a model on for its
 * /v1/models, and reports each model it does not serve and each replica that does not answer, as
 * `path: message` strings (empty: all good).
 */
export async function verifyModels(config: MappingConfig, backends: ReadonlyMap<string, AdmissionBackend>, timeoutMs = 5_000): Promise<string[]> {
  const wanted = new Map<string, { at: string; model: string }[]>();
  for (const side of mappedSides(config)) {
    if (side.model === undefined || !backends.has(side.backend)) continue;
    const list = wanted.get(side.backend) ?? [];
    list.push({ at: side.at, model: side.model });
    wanted.set(side.backend, list);
  }
  const problems = await Promise.all(
    [...wanted].map(async ([name, models]) => {
      const backend = backends.get(name)!;
      const found: string[] = [];
      for (const replica of backend.replicas) {
        const served = await servedModels(backend, replica.client, timeoutMs);
        if (typeof served === 'string') {
          found.push(`backends.${name}: cannot list the models of ${replica.url}: ${served}`);
          continue;
        }
        for (const { at, model } of models) {
          if (engineOf(backend.config.engine).serves(served, model)) continue;
          const where = backend.replicas.length > 1 ? ` at ${replica.url}` : '';
          found.push(`${at}.model: backend ${name}${where} does not serve "${model}" (it serves: ${served.join(', ') || 'nothing'})`);
        }
      }
      return found;
    }),
  );
  return problems.flat();
}

/** The model ids a replica lists, or why it could not be asked. */
async function servedModels(backend: AdmissionBackend, client: AdmissionBackend['replicas'][number]['client'], timeoutMs: number): Promise<string[] | string> {
  const headers = { accept: 'application/json', ...authorization(backend.config.api_key) };
  try {
    const response = await client.request({ method: 'GET', path: '/v1/models', headers, signal: AbortSignal.timeout(timeoutMs) });
    const text = new TextDecoder().decode(await response.readAll());
    if (response.status >= 300) return `status ${response.status}`;
    const data = (JSON.parse(text) as { data?: { id?: unknown }[] }).data;
    if (!Array.isArray(data)) return 'the answer has no `data` list';
    return data.flatMap((m) => (typeof m?.id === 'string' ? [m.id] : []));
  } catch (err) {
    const error = err as { name?: string; code?: string; message?: string };
    if (error.name === 'TimeoutError' || error.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
    return error.code ?? error.message ?? String(err);
  }
}
