// Who a request belongs to: what sessions/identity.ts reads from its X-Orla-* tags (or infers), and
// every later step of the request path takes as plain data.

export type CacheHint = 'preserve' | 'flush' | 'auto';

export interface Identity {
  /** Workflow run (session); inferred from the conversation root when untagged, absent when it cannot be. */
  run: string | undefined;
  runInferred: boolean;
  /** Requested stage; inferred from the system prompt when untagged. */
  stage: string | undefined;
  /** Where the stage came from: a stage named in `model: "orla:<stage>"` must exist. */
  stageSource: 'tag' | 'model' | 'inferred' | undefined;
  priority: number | undefined;
  cache: CacheHint | undefined;
  workflowDone: boolean;
  mapping: string | undefined;
  deadlineMs: number | undefined;
  quality: number | undefined;
  tags: Record<string, string>;
  /** The tenant of the request's key (gateway/auth.ts), never a tag: a run belongs to its tenant. */
  tenant?: string | undefined;
}
