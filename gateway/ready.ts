import type { AdmissionBackend } from '../routing/admission-backend.js';
import { authorization, engineOf } from '../upstream/engines/index.js';
const PROBE_TIMEOUT_MS = 2_000;

export interface Readiness {
  ready: boolean;
  backends: Record<string, { ready: number; replicas: number }>;
}

/** Ready when every backend has at least one replica answering its health probe. */
export async function readiness(backends: ReadonlyMap<string, AdmissionBackend>): Promise<Readiness> {
  const report: Readiness = { ready: true, backends: {} };
  await Promise.all(
    [...backends.values()].map(async (backend) => {
      const answers = await Promise.all(backend.replicas.map((replica) => probe(backend, replica.client)));
      const ready = answers.filter(Boolean).length;
      report.backends[backend.name] = { ready, replicas: backend.replicas.length };
      if (ready === 0) report.ready = false;
    }),
  );
  return report;
}

async function probe(backend: AdmissionBackend, client: AdmissionBackend['replicas'][number]['client']): Promise<boolean> {
  try {
    const response = await client.request({
      method: 'GET',
      path: engineOf(backend.config.engine).probePath,
      headers: authorization(backend.config.api_key),
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    response.cancel();
    return response.status < 300;
  } catch {
    return false;
  }
}
