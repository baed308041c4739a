import type { Classification } from './schemas.js';

// The tickets the workflow takes, and the demo's samples.

export interface Ticket {
  /** A short label for views ("double-charge"). */
  id: string;
  customerEmail: string;
  text: string;
  /**
   * For a simulated engine only: the classification it should answer, sent as the simulator's
   * `[[sim:answer …]]` test hook in the classify prompt, so a demo shows each path deterministically.
   * Leave it out against a real model.
   */
  scriptedClassification?: Classification;
}

export const SAMPLE_TICKETS: readonly Ticket[] = [
  {
    id: 'double-charge',
    customerEmail: 'maya.chen@example.com',
    text:
      'Hi, I was charged twice for my Pro plan this month: two charges of $49 on March 3. ' +
      'Also, the analytics dashboard has been really slow since last week; pages take 30 seconds to load. ' +
      'Can you refund the duplicate charge?',
    scriptedClassification: {
      category: 'billing',
      product: 'Pro plan',
      key_issue: 'charged twice ($49) for one month, and a slow analytics dashboard',
      customer_request: 'refund the duplicate charge',
      needs_escalation: false,
      escalation_reason: '',
    },
  },
  {
    id: 'account-compromise',
    customerEmail: 'j.okafor@example.com',
    text:
      'Someone logged into my account from another country last night, changed my email and password, ' +
      'and now I cannot get in. There are production API keys in that account. Please lock it right now!',
    scriptedClassification: {
      category: 'account',
      product: 'Acme Cloud account',
      key_issue: 'account taken over: email and password changed by someone else',
      customer_request: 'lock the account and restore access',
      needs_escalation: true,
      escalation_reason: 'likely account takeover with production API keys exposed',
    },
  },
  {
    id: 'nonprofit-question',
    customerEmail: 'hello@riverside-charity.example',
    text: 'Do you offer discounts for non-profits? We are a small charity and would like to use your product for our volunteers.',
    scriptedClassification: {
      category: 'general',
      product: 'paid plans',
      key_issue: 'asks whether non-profits get a discount',
      customer_request: 'pricing for a registered charity',
      needs_escalation: false,
      escalation_reason: '',
    },
  },
];

/** A ticket typed by hand (`orla demo --ticket`): the model classifies it for real. */
export function ticketFromText(text: string, id = 'custom'): Ticket {
  return { id, customerEmail: 'customer@example.com', text: text.trim() };
}
