import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startTestGateway } from '../helpers/gateway.js';

// An open stream holds its call (its run, its lease, its relay), not its request: an agent's context
// runs to tens of KB, and a gateway may hold a thousand streams for minutes. Measured as the heap
// this process keeps once garbage is collected, with one stream open whose request was 8 MB.

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const REQUEST_MB = 8;

/** Live heap, in MB, after a full collection. */
function liveHeapMb(): number {
  gc();
  gc(); // a second pass takes what the first one's finalizers let go
  return process.memoryUsage().heapUsed / 1048576;
}

describe('a stream in progress', () => {
  let gateway: RunningGateway;
  let engine: ReturnType<typeof createServer>;
  const open = new Set<ServerResponse>();

  beforeAll(async () => {
    // Answers a stream's head and first chunk, then holds it open; the request body is read and dropped.
    engine = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'Hi' } }] })}\n\n`);
        open.add(res);
      });
    });
    await new Promise<void>((resolve) => engine.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(engine.address() as AddressInfo).port}`;
    gateway = await startTestGateway({ backends: { vllm: { engine: 'vllm', urls: [url] } }, stages: { default: { backend: 'vllm', model: 'm' } } });
  });

  afterAll(async () => {
    for (const res of open) res.end();
    await gateway.close();
    await new Promise<void>((resolve) => engine.close(() => resolve()));
  });

  it('holds nothing of its request once the engine has it', async () => {
    // Warm up first (the heap grows with compiled code and caches on the first calls).
    for (let i = 0; i < 3; i++) await (await post('warm', 'hello')).body?.cancel();
    for (const res of open) res.end();
    open.clear();
    const before = liveHeapMb();

    // The body as a Buffer (outside the JS heap): the test's own copy is not what is measured.
    const response = await post('run-big', 'x'.repeat(REQUEST_MB * 1048576));
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const first = await reader.read(); // the engine has answered: the request went before
    expect(new TextDecoder().decode(first.value)).toContain('"content":"Hi"');
    expect(open.size).toBe(1);

    const grown = liveHeapMb() - before;
    expect(grown).toBeLessThan(REQUEST_MB / 4);
    await reader.cancel();
  });

  function post(run: string, content: string) {
    return fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-orla-workflow-run': run },
      body: Buffer.from(JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content }] })),
    });
  }
});
