// SGLang's sessions (python/sglang/srt/managers/session_controller.py, scheduler.py,
// entrypoints/http_server.py): POST /open_session returns the session id (a JSON string);
// requests naming an open session keep their KV in the radix cache, locked against eviction, until
// POST /close_session. A request naming an unknown or closed session is aborted by the scheduler
// with "Invalid request: session id X does not exist" (400; inside the 200 stream when streaming).
import { randomUUID } from 'node:crypto';
import type { Engine } from '../engine.js';
import { PinSet } from '../kvcache.js';

export const OPEN_FAILED = 'Failed to open the session. Check if a session with the same id is still open.';

export class SglangSessions {
  private readonly open = new Map<string, PinSet>();

  constructor(private readonly engine: Engine) {}

  /** Opens `id` (or a fresh uuid4 hex, as SGLang does); null when a session with that id is open. */
  openSession(id: string | undefined): string | null {
    const sessionId = id ?? randomUUID().replaceAll('-', '');
    if (this.open.has(sessionId)) return null;
    this.open.set(sessionId, new PinSet());
    return sessionId;
  }

  /** Unpins the session's blocks (they become evictable) and forgets it; an unknown id is a no-op, as in SGLang. */
  closeSession(id: string): void {
    const pins = this.open.get(id);
    if (!pins) return;
    this.open.delete(id);
    pins.closed = true;
    this.engine.cache.unpin(pins);
  }

  pinsOf(id: string): PinSet | undefined {
    return this.open.get(id);
  }

  /** /flush_cache drops every block, the sessions' too (the sessions stay open, with nothing cached). */
  unpinAll(): void {
    for (const pins of this.open.values()) this.engine.cache.unpin(pins);
  }
}
