import { Hono } from 'hono';
import { z } from 'zod';
import { badRequest, notFound } from '../errors.js';
import type { AdmissionBackend } from '../routing/admission-backend.js';
import { requireAdmin, type AuthEnv } from './auth.js';

const update = z.strictObject({ max_concurrency: z.number().int().positive() });

/** `GET /v1/backends`: queues, in-flight and circuits; `PATCH /v1/backends/{name}` (admin keys only): limits at run time. */
export function backendsApi(backends: ReadonlyMap<string, AdmissionBackend>): Hono<AuthEnv> {
  const api = new Hono<AuthEnv>();
  api.get('/', async (c) => c.json({ object: 'list', data: await Promise.all([...backends.values()].map((b) => b.snapshot())) }));
  api.patch('/:name', async (c) => {
    requireAdmin(c.get('principal'));
    const backend = backends.get(c.req.param('name'));
    if (!backend) throw notFound(`no backend named "${c.req.param('name')}"`, 'backend_not_found');
    const parsed = update.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) throw badRequest('body must be {"max_concurrency": <positive integer>}', 'max_concurrency');
    await backend.setMaxConcurrency(parsed.data.max_concurrency);
    return c.json(await backend.snapshot());
  });
  return api;
}
