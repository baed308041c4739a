// The affinity benchmark's round-robin baseline: one URL in front of several simulated replicas that
// sends each request to the next replica in turn, whatever run it belongs to (what a plain L4/L7
// load balancer does). Streams pass through byte for byte; request headers (x-session-id) too.
// POST /v1/sessions/{id}/flush goes to every replica (a run's blocks may be on any of them) and sums
// what they freed. Usage: round-robin-proxy.ts <port> <upstream> [<upstream>…]
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';
import { listenAndAnnounce, relayAnswer } from '../pass-through.js';

const [port = '0', ...upstreams] = process.argv.slice(2);
if (upstreams.length === 0) throw new Error('usage: round-robin-proxy.ts <port> <upstream>…');
const pools = upstreams.map((url) => new Pool(url, { connections: 512, keepAliveTimeout: 60_000 }));
let next = 0;

const HOP = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive']);
const forwardable = (headers: IncomingHttpHeaders) =>
  Object.fromEntries(Object.entries(headers).filter(([k, v]) => !HOP.has(k) && v !== undefined)) as Record<string, string>;

const server = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = chunks.length ? Buffer.concat(chunks) : undefined;
  const headers = forwardable(req.headers);
  const controller = new AbortController();
  res.on('close', () => controller.abort());
  try {
    if (req.method === 'POST' && /^\/v1\/sessions\/[^/]+\/flush$/.test(req.url ?? '')) {
      const answers = await Promise.all(pools.map(async (pool) => {
        const answer = await pool.request({ method: 'POST', path: req.url!, headers });
        return answer.statusCode === 200 ? ((await answer.body.json()) as { session_id: string; freed_tokens: number }) : (await answer.body.dump(), undefined);
      }));
      const freed = answers.reduce((sum, a) => sum + (a?.freed_tokens ?? 0), 0);
      const text = JSON.stringify({ session_id: answers.find((a) => a)?.session_id, freed_tokens: freed });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
      return;
    }
    const pool = pools[next]!;
    next = (next + 1) % pools.length;
    const answer = await pool.request({ method: req.method as 'POST', path: req.url!, headers, body, signal: controller.signal });
    await relayAnswer(answer, res);
  } catch {
    res.destroy();
  }
});
listenAndAnnounce(server, port, 'round-robin proxy');
