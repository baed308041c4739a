import { Hono } from 'hono';
import { z } from 'zod';
import { badRequest, notFound } from '../errors.js';
import type { Backend } from '../routing/backend.js';
import { requireAdmin, type AuthEnv } from './auth.js';

const update = z.strictObject({ max_concurrency: z.number().int().positive() });

/** `GET /v1/backends`: queues, in-flight and circuits; `PATCH /v1/backends/{name}` (admin keys only): limits at run time. */
export function backendsApi(backends: ReadonlyMap<string, Backend>): Hono<AuthEnv> {
  const api = new Hono<AuthEnv>();
  api.get('/', (c) => c.json({ object: 'list', data: [...backends.values()].map((b) => b.snapshot()) }));
  api.patch('/:name', async (c) => {
    requireAdmin(c.get('principal'));
    const backend = backends.get(c.req.param('name'));
    if (!backend) throw notFound(`no backend named "${c.req.param('name')}"`, 'backend_not_found');
    const parsed = update.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) throw badRequest('body must be {"max_concurrency": <positive integer>}', 'max_concurrency');
    backend.setMaxConcurrency(parsed.data.max_concurrency);
    return c.json(backend.snapshot());
  });
  return api;
}
