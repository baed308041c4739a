import type { ChatMessage } from '../types.js';
import type { Classification, PolicyDecision } from './schemas.js';
import type { Ticket } from './tickets.js';

// What each agent is told. The heavy stages open with the same system message (the ticket), so
// the engine can serve that prefix from its cache: the point of the `preserve` hints.

export function classifyMessages(ticket: Ticket): ChatMessage[] {
  const scripted = ticket.scriptedClassification ? `\n\n[[sim:answer ${JSON.stringify(ticket.scriptedClassification)}]]` : '';
  return [
    {
      role: 'system',
      content:
        'You triage support tickets for Acme Cloud. Classify the ticket: its category, the product, the key issue, ' +
        'what the customer asks for, and whether it needs escalation (security, legal or safety risk) and why. Answer with JSON only.',
    },
    { role: 'user', content: ticket.text + scripted },
  ];
}

function ticketContext(ticket: Ticket): ChatMessage {
  return {
    role: 'system',
    content: `You are a support agent at Acme Cloud. Be accurate, brief and kind.\n\nTicket from ${ticket.customerEmail}:\n${ticket.text}`,
  };
}

const facts = (c: Classification) => `Classification: ${JSON.stringify(c)}`;

export function policyCheckMessages(ticket: Ticket, c: Classification): ChatMessage[] {
  return [
    ticketContext(ticket),
    {
      role: 'user',
      content:
        `${facts(c)}\n\nRead the policies for the ticket's category with read_policy_yaml, then decide whether to accept or deny ` +
        "the customer's request. Answer with JSON: decision (accept or deny), reasoning, applicable_policy (the rule id).",
    },
  ];
}

export function routeTicketMessages(ticket: Ticket, c: Classification, escalationTeam: string): ChatMessage[] {
  const escalation = c.needs_escalation
    ? `\n\nThis ticket needs escalation (${c.escalation_reason}): file it with ${escalationTeam} at priority 10, ` +
      "then alert that team's on-call address with send_email."
    : '';
  return [
    ticketContext(ticket),
    {
      role: 'user',
      content:
        `${facts(c)}\n\nRead the team descriptions, then file the ticket with send_ticket: the right team, a priority from ` +
        `1 to 10, a one-line summary and the customer's email (${ticket.customerEmail}).${escalation}\n` +
        'Finish with one line saying where the ticket went.',
    },
  ];
}

export function replyMessages(ticket: Ticket, c: Classification, policy: PolicyDecision): ChatMessage[] {
  const task = c.needs_escalation
    ? `The ticket was escalated to a specialist team. Send ${ticket.customerEmail} only a short acknowledgement with ` +
      'send_email: we have the case and a specialist will contact them soon. Do not promise a resolution or discuss policy.'
    : `${facts(c)}\nPolicy decision: ${JSON.stringify(policy)}\n\nWrite the reply to the customer, following the decision, ` +
      `and send it to ${ticket.customerEmail} with send_email.`;
  return [ticketContext(ticket), { role: 'user', content: `${task}\nThen answer with the text you sent.` }];
}
