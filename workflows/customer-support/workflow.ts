import { Workflow } from '../workflow.js';
import type { ToolChoice } from '../types.js';
import type { ServiceDesk } from './desk.js';
import { classifyMessages, policyCheckMessages, replyMessages, routeTicketMessages } from './prompts.js';
import { classificationSchema, parseClassification, parsePolicyDecision, policyDecisionSchema, type Category, type Classification, type PolicyDecision } from './schemas.js';
import type { Ticket } from './tickets.js';
import { readPolicyYaml, readTeamDescriptions, sendEmail, sendTicket } from './tools.js';

// The customer-support workflow of the Orla paper:
//
//   classify ──┬── policy_check ──┬── reply
//              └── route_ticket ──┘
//
// classify runs on the light model (the gateway's stage mapping decides that, not this file);
// policy_check and route_ticket run in parallel; reply waits for both.

export type SupportResults = {
  classify: Classification;
  policy_check: PolicyDecision;
  route_ticket: string;
  reply: string;
};

/** Tickets in these categories get their reply first under a priority scheduler. */
const URGENT_CATEGORIES: readonly Category[] = ['billing', 'technical'];
export const URGENT_REPLY_PRIORITY = 8;
export const NORMAL_REPLY_PRIORITY = 5;
/** Every escalated ticket goes to this team (teams.yaml), at the top priority. */
export const ESCALATION_TEAM = 'trust_and_safety';

/** Names the tool a turn must call; later turns leave the choice to the model. */
const callTool = (name: string | undefined): ToolChoice | undefined => (name ? { type: 'function', function: { name } } : undefined);

export function customerSupportWorkflow(desk: ServiceDesk): Workflow<Ticket, SupportResults> {
  const escalationTeam = desk.teams.find((t) => t.id === ESCALATION_TEAM);
  if (!escalationTeam) throw new Error(`teams.yaml has no ${ESCALATION_TEAM} team for escalations`);
  return new Workflow<Ticket, SupportResults>('customer-support', {
    classify: {
      messages: ({ input }) => classifyMessages(input),
      responseFormat: { name: 'ticket_classification', schema: classificationSchema },
      output: parseClassification,
    },
    policy_check: {
      after: ['classify'],
      messages: ({ input, result }) => policyCheckMessages(input, result('classify')),
      tools: ({ result }) => [readPolicyYaml(desk, [result('classify').category])],
      toolChoice: (turn) => callTool(turn === 0 ? 'read_policy_yaml' : undefined),
      maxTurns: 4,
      responseFormat: { name: 'policy_decision', schema: policyDecisionSchema },
      output: parsePolicyDecision,
      cache: 'preserve',
    },
    route_ticket: {
      after: ['classify'],
      messages: ({ input, result }) => routeTicketMessages(input, result('classify'), escalationTeam.id),
      tools: ({ input, result }) => {
        const escalated = result('classify').needs_escalation;
        return [
          readTeamDescriptions(desk),
          sendTicket(desk, { customerEmail: input.customerEmail, ...(escalated ? { teams: [escalationTeam.id], priorities: [10] } : {}) }),
          sendEmail(desk, escalated ? [escalationTeam.on_call] : undefined),
        ];
      },
      // Read the teams, file the ticket, and for an escalation alert the on-call; then answer.
      toolChoice: (turn, { result }) => {
        const plan = ['read_team_descriptions', 'send_ticket', ...(result('classify').needs_escalation ? ['send_email'] : [])];
        return callTool(plan[turn]);
      },
      maxTurns: 6,
      params: { max_tokens: 80 },
      cache: 'preserve',
    },
    reply: {
      after: ['policy_check', 'route_ticket'],
      messages: ({ input, result }) => replyMessages(input, result('classify'), result('policy_check')),
      tools: ({ input }) => [sendEmail(desk, [input.customerEmail])],
      toolChoice: (turn) => callTool(turn === 0 ? 'send_email' : undefined),
      maxTurns: 4,
      params: { max_tokens: 300 },
      priority: ({ result }) => (URGENT_CATEGORIES.includes(result('classify').category) ? URGENT_REPLY_PRIORITY : NORMAL_REPLY_PRIORITY),
      // The last stage: the run's cache can go.
      cache: 'flush',
    },
  });
}
