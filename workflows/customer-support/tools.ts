import type { Tool } from '../types.js';
import { CATEGORIES, type Category } from './schemas.js';
import type { ServiceDesk } from './desk.js';

// The agents' tools, as the seed names them, acting on one ServiceDesk. The optional limits
// narrow a tool's JSON schema to what this ticket allows (its category, its customer, the
// escalation team), so constrained decoding keeps even a small model on the rails.

const text = (value: unknown): string => (typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value));

export function readPolicyYaml(desk: ServiceDesk, categories: readonly Category[] = CATEGORIES): Tool {
  return {
    name: 'read_policy_yaml',
    description: 'The support policies for a ticket category, as YAML.',
    parameters: {
      type: 'object',
      properties: { category: { type: 'string', enum: [...categories] } },
      required: ['category'],
      additionalProperties: false,
    },
    run: (args) => desk.policyYaml(text(args.category)),
  };
}

export function readTeamDescriptions(desk: ServiceDesk): Tool {
  return {
    name: 'read_team_descriptions',
    description: 'The support teams: id, what each handles, and its on-call address, as YAML.',
    parameters: { type: 'object', properties: {}, additionalProperties: false },
    run: () => desk.teamsYaml(),
  };
}

export interface TicketLimits {
  teams?: readonly string[];
  priorities?: readonly number[];
  customerEmail?: string;
}

export function sendTicket(desk: ServiceDesk, limits: TicketLimits = {}): Tool {
  const priority = limits.priorities ? { enum: [...limits.priorities] } : { minimum: 1, maximum: 10 };
  return {
    name: 'send_ticket',
    description: "Files the ticket in a team's queue.",
    parameters: {
      type: 'object',
      properties: {
        team: { type: 'string', enum: [...(limits.teams ?? desk.teams.map((t) => t.id))] },
        priority: { type: 'integer', ...priority, description: '10 is the most urgent' },
        summary: { type: 'string' },
        customer_email: limits.customerEmail ? { type: 'string', enum: [limits.customerEmail] } : { type: 'string', format: 'email' },
      },
      required: ['team', 'priority', 'summary', 'customer_email'],
      additionalProperties: false,
    },
    run: (args, ctx) => {
      const sent = desk.sendTicket({
        run: ctx.run,
        team: text(args.team),
        priority: Number(args.priority),
        summary: text(args.summary),
        customer_email: text(args.customer_email),
      });
      return { ticket_id: sent.id, team: sent.team };
    },
  };
}

/** `recipients`: the only addresses it may write to; any address when absent. */
export function sendEmail(desk: ServiceDesk, recipients?: readonly string[]): Tool {
  return {
    name: 'send_email',
    description: 'Sends an email.',
    parameters: {
      type: 'object',
      properties: {
        to: recipients ? { type: 'string', enum: [...recipients] } : { type: 'string', format: 'email' },
        subject: { type: 'string' },
        body: { type: 'string' },
      },
      required: ['to', 'subject', 'body'],
      additionalProperties: false,
    },
    run: (args, ctx) => {
      const sent = desk.sendEmail({ run: ctx.run, stage: ctx.stage, to: text(args.to), subject: text(args.subject), body: text(args.body) });
      return { sent: true, message_id: sent.id };
    },
  };
}
