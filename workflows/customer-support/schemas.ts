// The structured answers of the customer-support workflow: the classifier's verdict and the policy
// check's decision, each as a JSON schema (sent as response_format) and its TypeScript type.

export const CATEGORIES = ['billing', 'technical', 'account', 'shipping', 'general'] as const;
export type Category = (typeof CATEGORIES)[number];

export interface Classification {
  category: Category;
  product: string;
  key_issue: string;
  customer_request: string;
  needs_escalation: boolean;
  /** Empty when no escalation is needed. */
  escalation_reason: string;
}

export const classificationSchema = {
  type: 'object',
  properties: {
    category: { type: 'string', enum: [...CATEGORIES] },
    product: { type: 'string', description: 'the product or plan the ticket is about' },
    key_issue: { type: 'string', description: 'the problem, in one sentence' },
    customer_request: { type: 'string', description: 'what the customer asks for' },
    needs_escalation: { type: 'boolean', description: 'security, legal or safety risk, or an angry high-value customer' },
    escalation_reason: { type: 'string', description: 'why it needs escalation; empty when it does not' },
  },
  required: ['category', 'product', 'key_issue', 'customer_request', 'needs_escalation', 'escalation_reason'],
  additionalProperties: false,
};

export interface PolicyDecision {
  decision: 'accept' | 'deny';
  reasoning: string;
  applicable_policy: string;
}

export const policyDecisionSchema = {
  type: 'object',
  properties: {
    decision: { type: 'string', enum: ['accept', 'deny'] },
    reasoning: { type: 'string' },
    applicable_policy: { type: 'string', description: 'the id of the policy rule that decides it' },
  },
  required: ['decision', 'reasoning', 'applicable_policy'],
  additionalProperties: false,
};

/** Reads a classifier answer, naming what is wrong with a malformed one. */
export function parseClassification(text: string): Classification {
  const value = JSON.parse(text) as Partial<Classification>;
  if (!CATEGORIES.includes(value.category as Category)) throw new Error(`unknown category ${JSON.stringify(value.category)}`);
  if (typeof value.needs_escalation !== 'boolean') throw new Error('needs_escalation must be true or false');
  return {
    category: value.category as Category,
    product: String(value.product ?? ''),
    key_issue: String(value.key_issue ?? ''),
    customer_request: String(value.customer_request ?? ''),
    needs_escalation: value.needs_escalation,
    escalation_reason: String(value.escalation_reason ?? ''),
  };
}

export function parsePolicyDecision(text: string): PolicyDecision {
  const value = JSON.parse(text) as Partial<PolicyDecision>;
  if (value.decision !== 'accept' && value.decision !== 'deny') throw new Error(`decision must be accept or deny, got ${JSON.stringify(value.decision)}`);
  return { decision: value.decision, reasoning: String(value.reasoning ?? ''), applicable_policy: String(value.applicable_policy ?? '') };
}
