import type { ServerResponse } from 'node:http';
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
