import { describe, expect, it } from 'vitest';
import { OrlaError } from '../../errors.js';
import { identify } from '../../sessions/identity.js';

const chat = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model: 'gpt',
  messages: [
    { role: 'system', content: 'You triage support tickets.' },
    { role: 'user', content: 'My card was charged twice.' },
  ],
  ...extra,
});

describe('request identity', () => {
  it('reads every tag from the X-Orla-* headers', () => {
    const id = identify(
      {
        'x-orla-workflow-run': 'run-1',
        'x-orla-stage': 'classify',
        'x-orla-priority': '8',
        'x-orla-cache': 'preserve',
        'x-orla-workflow-done': 'true',
        'x-orla-mapping': 'cheap',
        'x-orla-deadline-ms': '1500',
        'x-orla-quality': '0.7',
        'x-orla-tag-team': 'billing',
        'x-orla-unknown': 'ignored',
      },
      chat(),
    );
    expect(id).toMatchObject({
      run: 'run-1',
      runInferred: false,
      stage: 'classify',
      stageSource: 'tag',
      priority: 8,
      cache: 'preserve',
      workflowDone: true,
      mapping: 'cheap',
      deadlineMs: 1500,
      quality: 0.7,
      tags: { team: 'billing' },
    });
  });

  it('falls back to metadata, flat and nested, removes Orla\'s keys and keeps the client\'s', () => {
    const flat = chat({ metadata: { 'orla.stage': 'reply', 'orla.priority': 5, user_key: 'kept' } });
    expect(identify({}, flat)).toMatchObject({ stage: 'reply', priority: 5 });
    expect(flat.metadata).toEqual({ user_key: 'kept' });

    const nested = chat({ metadata: { orla: { workflow_run: 'r9', stage: 'reply', tags: { a: 1 } } } });
    expect(identify({}, nested)).toMatchObject({ run: 'r9', stage: 'reply', tags: { a: '1' } });
    expect('metadata' in nested).toBe(false); // nothing of the client's was left
  });

  it('lets headers win over metadata', () => {
    const body = chat({ metadata: { 'orla.stage': 'reply', 'orla.workflow_run': 'from-body' } });
    expect(identify({ 'x-orla-stage': 'classify' }, body)).toMatchObject({ stage: 'classify', run: 'from-body' });
  });

  it('refuses names that cannot be echoed in a response header, naming the field', () => {
    const param = (headers: Record<string, string>, body: Record<string, unknown>) => {
      try {
        identify(headers, body);
      } catch (err) {
        return (err as OrlaError).param;
      }
      return 'accepted';
    };
    expect(param({}, chat({ metadata: { 'orla.stage': 'réponse' } }))).toBe('metadata.orla.stage');
    expect(param({}, chat({ metadata: { orla: { workflow_run: 'run\r\nx-evil: 1' } } }))).toBe('metadata.orla.workflow_run');
    expect(param({}, chat({ model: 'orla:回复' }))).toBe('model');
    expect(param({ 'x-orla-stage': 'x'.repeat(257) }, chat())).toBe('x-orla-stage');
    expect(param({ 'x-orla-stage': ' reply ' }, chat())).toBe('accepted');
  });

  it('takes the stage from model "orla:<stage>" and removes that model name', () => {
    const body = chat({ model: 'orla:policy_check' });
    expect(identify({}, body)).toMatchObject({ stage: 'policy_check', stageSource: 'model' });
    expect(body.model).toBeUndefined();
  });

  it('infers a stable run from the conversation root and a stage from the system prompt', () => {
    const first = identify({}, chat());
    const later = identify({}, chat({ messages: [...(chat().messages as object[]), { role: 'assistant', content: 'ok' }, { role: 'user', content: 'more' }] }));
    expect(first.runInferred).toBe(true);
    expect(first.stageSource).toBe('inferred');
    expect(first.run).toMatch(/^auto-[0-9a-f]{14}$/);
    expect(later.run).toBe(first.run);
    expect(later.stage).toBe(first.stage);
    const otherAgent = identify({}, chat({ messages: [{ role: 'system', content: 'You write replies.' }, { role: 'user', content: 'My card was charged twice.' }] }));
    expect(otherAgent.stage).not.toBe(first.stage);
    expect(otherAgent.run).not.toBe(first.run);
  });

  it.each([
    [{ 'x-orla-priority': 'high' }, 'X-Orla-Priority'],
    [{ 'x-orla-priority': '1.5' }, 'X-Orla-Priority'],
    [{ 'x-orla-cache': 'keep' }, 'X-Orla-Cache'],
    [{ 'x-orla-quality': '2' }, 'X-Orla-Quality'],
    [{ 'x-orla-deadline-ms': '-5' }, 'X-Orla-Deadline-Ms'],
    [{ 'x-orla-deadline-ms': '3000000000' }, 'X-Orla-Deadline-Ms'], // past what a Node timer holds
    [{ 'x-orla-workflow-done': 'maybe' }, 'X-Orla-Workflow-Done'],
  ])('refuses a bad tag %j with a 400 naming it', (headers, param) => {
    try {
      identify(headers, chat());
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(OrlaError);
      expect((err as OrlaError).status).toBe(400);
      expect((err as OrlaError).param?.toLowerCase()).toBe(param.toLowerCase());
      expect((err as OrlaError).message).toContain(param.toLowerCase());
    }
  });
});
