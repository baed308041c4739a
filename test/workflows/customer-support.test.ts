import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import {
  CATEGORIES,
  ESCALATION_TEAM,
  NORMAL_REPLY_PRIORITY,
  SAMPLE_TICKETS,
  ServiceDesk,
  URGENT_REPLY_PRIORITY,
  customerSupportWorkflow,
  ticketFromText,
  type Classification,
  type Ticket,
} from '../../workflows/customer-support/index.js';
import { startTestGateway } from '../helpers/gateway.js';
import { clientFor, recordingFetch, type SentRequest } from './helpers.js';

// The customer-support example end to end, against a gateway with the embedded stage mapping
// (classify on light, the rest on heavy) over instant simulated engines. The sample tickets script
// the simulated classifier, so each path is deterministic; the tools' arguments are the model's.

let gateway: RunningGateway;
beforeAll(async () => {
  const stage = (backend: string) => ({ backend, model: 'sim-instant' });
  gateway = await startTestGateway({
    backends: { light: { engine: 'simulator', profile: 'instant' }, heavy: { engine: 'simulator', profile: 'instant' } },
    stages: { classify: stage('light'), policy_check: stage('heavy'), route_ticket: stage('heavy'), reply: stage('heavy'), default: stage('heavy') },
  });
});
afterAll(() => gateway.close());

async function runTicket(ticket: Ticket) {
  const desk = new ServiceDesk();
  const wire = recordingFetch();
  const result = await customerSupportWorkflow(desk).run(ticket, { client: clientFor(gateway.url, wire.fetch) });
  const chat = wire.sent.filter((s) => s.url.endsWith('/chat/completions'));
  const sentBy = (stage: string) => chat.filter((s) => s.headers.get('x-orla-stage') === stage);
  const toolsOf = (stage: keyof typeof result.stages) => result.stages[stage].tools.map((t) => t.name);
  return { desk, result, chat, sentBy, toolsOf };
}

const priorities = (requests: SentRequest[]) => [...new Set(requests.map((r) => r.headers.get('x-orla-priority')))];
const sample = (id: string) => SAMPLE_TICKETS.find((t) => t.id === id)!;

describe('the customer-support workflow', () => {
  it('handles a billing ticket: policy for its category, ticket filed, customer answered first (priority 8)', async () => {
    const ticket = sample('double-charge');
    const { result, desk, chat, sentBy, toolsOf } = await runTicket(ticket);

    expect(result.status).toBe('done');
    expect(result.results.classify).toEqual(ticket.scriptedClassification);
    expect(toolsOf('policy_check')).toEqual(['read_policy_yaml']);
    expect(result.stages.policy_check.tools[0]!.args).toBe('{"category":"billing"}');
    expect(['accept', 'deny']).toContain(result.results.policy_check!.decision);
    expect(toolsOf('route_ticket')).toEqual(['read_team_descriptions', 'send_ticket']);
    expect(toolsOf('reply')).toEqual(['send_email']);
    expect(desk.tickets).toMatchObject([{ customer_email: ticket.customerEmail, run: result.run }]);
    expect(desk.emails).toMatchObject([{ stage: 'reply', to: ticket.customerEmail }]);

    expect(priorities(sentBy('reply'))).toEqual([String(URGENT_REPLY_PRIORITY)]);
    expect(priorities(chat.filter((r) => r.headers.get('x-orla-stage') !== 'reply'))).toEqual([null]);
    expect(chat.every((r) => r.headers.get('x-orla-workflow-run') === result.run)).toBe(true);
    expect(result.stages.classify.calls[0]!.backend).toBe('light');
    expect(result.stages.reply.calls.every((c) => c.backend === 'heavy')).toBe(true);
  });

  it('escalates an account takeover to trust and safety, alerts its on-call, and only acknowledges (priority 5)', async () => {
    const ticket = sample('account-compromise');
    const { result, desk, sentBy, toolsOf } = await runTicket(ticket);

    expect(result.status).toBe('done');
    expect(result.results.classify!.needs_escalation).toBe(true);
    expect(toolsOf('route_ticket')).toEqual(['read_team_descriptions', 'send_ticket', 'send_email']);
    const onCall = desk.teams.find((t) => t.id === ESCALATION_TEAM)!.on_call;
    expect(desk.tickets).toMatchObject([{ team: ESCALATION_TEAM, priority: 10, customer_email: ticket.customerEmail }]);
    expect(desk.emails.map((e) => [e.stage, e.to])).toEqual(
      expect.arrayContaining([
        ['route_ticket', onCall],
        ['reply', ticket.customerEmail],
      ]),
    );
    const replyPrompt = JSON.stringify(sentBy('reply')[0]!.body.messages);
    expect(replyPrompt).toContain('only a short acknowledgement');
    expect(replyPrompt).not.toContain('Policy decision');
    expect(priorities(sentBy('reply'))).toEqual([String(NORMAL_REPLY_PRIORITY)]);
  });

  it('answers a general question without escalation, at priority 5', async () => {
    const { result, desk, sentBy, toolsOf } = await runTicket(sample('nonprofit-question'));
    expect(result.status).toBe('done');
    expect(toolsOf('route_ticket')).toEqual(['read_team_descriptions', 'send_ticket']);
    expect(desk.emails.map((e) => e.stage)).toEqual(['reply']);
    expect(priorities(sentBy('reply'))).toEqual([String(NORMAL_REPLY_PRIORITY)]);
  });

  it('sends a technical ticket typed by hand at priority 8', async () => {
    const technical: Classification = { ...sample('double-charge').scriptedClassification!, category: 'technical' };
    const ticket = { ...ticketFromText('The dashboard has been timing out since Monday.'), scriptedClassification: technical };
    const { result, sentBy } = await runTicket(ticket);
    expect(result.stages.policy_check.tools[0]!.args).toBe('{"category":"technical"}');
    expect(priorities(sentBy('reply'))).toEqual([String(URGENT_REPLY_PRIORITY)]);
  });

  it('lets the model classify an unscripted ticket', async () => {
    const { result } = await runTicket(ticketFromText('Where is my hardware key? I ordered it two weeks ago.'));
    expect(result.status).toBe('done');
    expect(CATEGORIES).toContain(result.results.classify!.category);
  });

  it('completes the run on the gateway at the end', async () => {
    const desk = new ServiceDesk();
    const wire = recordingFetch();
    const result = await customerSupportWorkflow(desk).run(sample('nonprofit-question'), { client: clientFor(gateway.url, wire.fetch), runId: 'cs-complete' });
    expect(wire.sent.at(-1)!.url).toBe(`${gateway.url}/v1/workflows/cs-complete/complete`);
    // Until the gateway serves the endpoint, the run reports its 404.
    expect(result.completion.ok || result.completion.status === 404).toBe(true);
  });
});
