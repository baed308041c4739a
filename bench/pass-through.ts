import type { Server, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';

/** Sends an upstream answer back as it comes: status, headers less the hop-by-hop ones, body piped. */
export async function relayAnswer(answer: Dispatcher.ResponseData, res: ServerResponse): Promise<void> {
  const headers = { ...answer.headers };
  delete headers['content-length'];
  delete headers['transfer-encoding'];
  delete headers.connection;
  res.writeHead(answer.statusCode, headers);
  for await (const chunk of answer.body) if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
  res.end();
}

/** Listens on loopback and prints the URL (what bench/processes.ts waits for); SIGTERM ends it. */
export function listenAndAnnounce(server: Server, port: string, name: string): void {
  server.keepAliveTimeout = 65_000;
  server.listen(Number(port), '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`${name} listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}
