import { badRequest } from '../errors.js';
import { hashHex } from '../hash.js';
import type { CacheHint, Identity } from '../identity.js';

export type { CacheHint, Identity } from '../identity.js';

// Who a request belongs to: the X-Orla-* tags of DESIGN.md ("The wire protocol"). Headers win over
// the body's `metadata` (flat `"orla.stage"` or nested `{"orla": {"stage"}}`); Orla's own keys are
// removed from the body before it is forwarded. Untagged agents get a run and a stage inferred from
// the conversation, stable across calls.

const FIELDS = ['workflow_run', 'stage', 'priority', 'cache', 'workflow_done', 'mapping', 'deadline_ms', 'quality'] as const;
type Field = (typeof FIELDS)[number];

const HEADER_FIELD: Record<string, Field> = {
  'x-orla-workflow-run': 'workflow_run',
  'x-orla-stage': 'stage',
  'x-orla-priority': 'priority',
  'x-orla-cache': 'cache',
  'x-orla-workflow-done': 'workflow_done',
  'x-orla-mapping': 'mapping',
  'x-orla-deadline-ms': 'deadline_ms',
  'x-orla-quality': 'quality',
};
const HEADER_NAME = Object.fromEntries(Object.entries(HEADER_FIELD).map(([h, f]) => [f, h])) as Record<Field, string>;
const TAG_PREFIX = 'x-orla-tag-';
const STAGE_MODEL_PREFIX = 'orla:';

/**
 * Reads the tags from `orlaHeaders` (the request's `x-orla-*` headers, names lower-case) and from
 * `body.metadata`, which it cleans of Orla's keys. A `model` of `orla:<stage>` picks the stage.
 */
export function identify(orlaHeaders: Record<string, string>, body: Record<string, unknown>): Identity {
  const values: Partial<Record<Field, { value: unknown; param: string }>> = {};
  const tags: Record<string, string> = {};

  const fromBody = takeOrlaMetadata(body);
  for (const field of FIELDS) {
    if (fromBody[field] !== undefined) values[field] = { value: fromBody[field], param: `metadata.orla.${field}` };
  }
  if (fromBody.tags !== undefined) {
    if (fromBody.tags === null || typeof fromBody.tags !== 'object' || Array.isArray(fromBody.tags)) {
      throw badRequest('metadata orla.tags must be an object of strings', 'metadata.orla.tags');
    }
    for (const [key, value] of Object.entries(fromBody.tags)) tags[key] = String(value);
  }
  for (const name in orlaHeaders) {
    const field = HEADER_FIELD[name];
    if (field) values[field] = { value: orlaHeaders[name], param: HEADER_NAME[field] };
    else if (name.startsWith(TAG_PREFIX)) tags[name.slice(TAG_PREFIX.length)] = orlaHeaders[name]!;
    // Other x-orla-* headers are ignored (and never forwarded).
  }

  let stage = optionalString(values.stage);
  let stageSource: Identity['stageSource'] = stage === undefined ? undefined : 'tag';
  if (typeof body.model === 'string' && body.model.startsWith(STAGE_MODEL_PREFIX)) {
    if (stage === undefined) {
      stage = checkedName(body.model.slice(STAGE_MODEL_PREFIX.length), 'model');
      stageSource = 'model';
    }
    delete body.model;
  }
  let run = optionalString(values.workflow_run);
  let runInferred = false;
  if (run === undefined || stage === undefined) {
    const root = conversationRoot(body);
    if (run === undefined && root.firstUser !== undefined) {
      run = `auto-${hashHex(`${root.system ?? ''}\u0000${root.firstUser}`)}`;
      runInferred = true;
    }
    if (stage === undefined && root.system !== undefined) {
      stage = `auto-${hashHex(root.system).slice(0, 8)}`;
      stageSource = 'inferred';
    }
  }

  return {
    run,
    runInferred,
    stage,
    stageSource,
    priority: optionalInteger(values.priority),
    cache: optionalCacheHint(values.cache),
    workflowDone: optionalBoolean(values.workflow_done) ?? false,
    mapping: optionalString(values.mapping),
    deadlineMs: optionalDeadline(values.deadline_ms),
    quality: optionalFraction(values.quality),
    tags,
  };
}

/** Removes Orla's keys from `body.metadata` (both forms) and returns them; drops metadata left empty. */
function takeOrlaMetadata(body: Record<string, unknown>): Record<string, unknown> {
  const metadata = body.metadata;
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) return {};
  const found: Record<string, unknown> = {};
  const meta = metadata as Record<string, unknown>;
  let touched = false;
  const nested = meta.orla;
  if (nested !== null && typeof nested === 'object' && !Array.isArray(nested)) {
    Object.assign(found, nested);
    delete meta.orla;
    touched = true;
  }
  for (const key of Object.keys(meta)) {
    if (key.startsWith('orla.')) {
      found[key.slice(5)] = meta[key];
      delete meta[key];
      touched = true;
    }
  }
  if (touched && Object.keys(meta).length === 0) delete body.metadata;
  return found;
}

/** The first system and first user message: agent loops resend both on every call. */
function conversationRoot(body: Record<string, unknown>): { system?: string; firstUser?: string } {
  const root: { system?: string; firstUser?: string } = {};
  if (typeof body.instructions === 'string') root.system = body.instructions; // Responses API
  const messages = Array.isArray(body.messages) ? body.messages : Array.isArray(body.input) ? body.input : undefined;
  if (!messages) {
    if (typeof body.input === 'string') root.firstUser = body.input;
    return root;
  }
  for (const message of messages) {
    if (message === null || typeof message !== 'object') continue;
    const { role, content } = message as { role?: unknown; content?: unknown };
    if ((role === 'system' || role === 'developer') && root.system === undefined) root.system = textOf(content);
    else if (role === 'user' && root.firstUser === undefined) root.firstUser = textOf(content);
    if (root.system !== undefined && root.firstUser !== undefined) break;
  }
  return root;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) {
    if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') {
      text += (part as { text: string }).text;
    }
  }
  return text;
}

type Tagged = { value: unknown; param: string } | undefined;

/** Names are echoed in response headers (X-Orla-Stage, X-Orla-Workflow-Run): printable ASCII only. */
const NAME = /^[\x20-\x7e]{1,256}$/;

function optionalString(tag: Tagged): string | undefined {
  if (!tag) return undefined;
  if (typeof tag.value !== 'string' && typeof tag.value !== 'number') throw badRequest(`${tag.param} must be a string`, tag.param);
  return checkedName(String(tag.value).trim(), tag.param);
}

function checkedName(name: string, param: string): string {
  if (!NAME.test(name)) throw badRequest(`${param} must be 1 to 256 printable ASCII characters, got ${JSON.stringify(name.slice(0, 64))}`, param);
  return name;
}

function optionalNumber(tag: Tagged): number | undefined {
  if (!tag) return undefined;
  const n = typeof tag.value === 'string' && tag.value.trim() !== '' ? Number(tag.value) : tag.value;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw badRequest(`${tag.param} must be a number, got ${JSON.stringify(tag.value)}`, tag.param);
  return n;
}

function optionalInteger(tag: Tagged): number | undefined {
  const n = optionalNumber(tag);
  if (n !== undefined && !Number.isInteger(n)) throw badRequest(`${tag!.param} must be an integer, got ${n}`, tag!.param);
  return n;
}

/** Node timers hold at most 2^31 − 1 ms (about 24.8 days); a longer one would fire at once. */
const MAX_DEADLINE_MS = 2_147_483_647;

function optionalDeadline(tag: Tagged): number | undefined {
  const n = optionalNumber(tag);
  if (n !== undefined && !(n > 0 && n <= MAX_DEADLINE_MS)) throw badRequest(`${tag!.param} must be between 0 and ${MAX_DEADLINE_MS} ms, got ${n}`, tag!.param);
  return n;
}

function optionalFraction(tag: Tagged): number | undefined {
  const n = optionalNumber(tag);
  if (n !== undefined && (n < 0 || n > 1)) throw badRequest(`${tag!.param} must be between 0 and 1, got ${n}`, tag!.param);
  return n;
}

function optionalBoolean(tag: Tagged): boolean | undefined {
  if (!tag) return undefined;
  if (tag.value === true || tag.value === 'true' || tag.value === '1') return true;
  if (tag.value === false || tag.value === 'false' || tag.value === '0') return false;
  throw badRequest(`${tag.param} must be true or false, got ${JSON.stringify(tag.value)}`, tag.param);
}

function optionalCacheHint(tag: Tagged): CacheHint | undefined {
  if (!tag) return undefined;
  if (tag.value === 'preserve' || tag.value === 'flush' || tag.value === 'auto') return tag.value;
  throw badRequest(`${tag.param} must be preserve, flush or auto, got ${JSON.stringify(tag.value)}`, tag.param);
}
