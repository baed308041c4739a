// The floor for the overhead benchmark: the least a Node proxy can do. node:http in, one undici Pool
// out, bytes piped back. No parsing, no mapping, no metrics. Usage: bare-proxy.ts <port> <upstream>
import { createServer } from 'node:http';
import { Pool } from 'undici';
import { listenAndAnnounce, relayAnswer } from './pass-through.js';

const [port = '0', upstream = 'http://127.0.0.1:18001'] = process.argv.slice(2);
const pool = new Pool(upstream, { keepAliveTimeout: 30_000 });

const server = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const controller = new AbortController();
  res.on('close', () => controller.abort());
  try {
    const answer = await pool.request({
      method: req.method as 'POST',
      path: req.url!,
      headers: { 'content-type': 'application/json' },
      body: Buffer.concat(chunks),
      signal: controller.signal,
    });
    await relayAnswer(answer, res);
  } catch {
    res.destroy();
  }
});
listenAndAnnounce(server, port, 'bare proxy');
