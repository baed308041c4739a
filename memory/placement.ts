import type { Replica } from '../routing/backends.js';
import { hashHex } from '../sessions/hash.js';

/** How much of a prompt places it: about a cache block run of a shared instruction or few-shot prefix. */
const OPENING_CHARS = 1024;

/** The replica for a prompt by a hash of its opening (undefined with one replica or no prompt). */
export function byPromptOpening(body: Readonly<Record<string, unknown>>, replicas: readonly Replica[]): Replica | undefined {
  if (replicas.length < 2) return undefined;
  const opening = promptOpening(body);
  return opening ? replicas[parseInt(hashHex(opening).slice(-8), 16) % replicas.length] : undefined;
}

/** The first characters of a request's prompt, whatever its route's shape. */
function promptOpening(body: Readonly<Record<string, unknown>>): string | undefined {
  let source = Array.isArray(body.messages) ? (body.messages[0] as { content?: unknown } | undefined)?.content : body.prompt ?? body.input;
  if (Array.isArray(source) && typeof source[0] !== 'number') source = source[0]; // a batch or content parts: the first
  if (Array.isArray(source)) source = JSON.stringify(source.slice(0, 256)); // token ids
  else if (source !== null && typeof source === 'object') source = (source as { text?: unknown }).text; // a text part
  return typeof source === 'string' ? source.slice(0, OPENING_CHARS) : undefined;
}
