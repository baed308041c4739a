// The customer-support example: a ticket classified, checked against policy and routed in
// parallel, then answered.
export { customerSupportWorkflow, ESCALATION_TEAM, NORMAL_REPLY_PRIORITY, URGENT_REPLY_PRIORITY, type SupportResults } from './workflow.js';
export { ServiceDesk, type SentEmail, type SentTicket, type Team } from './desk.js';
export { SAMPLE_TICKETS, ticketFromText, type Ticket } from './tickets.js';
export { CATEGORIES, type Category, type Classification, type PolicyDecision } from './schemas.js';
export { readPolicyYaml, readTeamDescriptions, sendEmail, sendTicket, type TicketLimits } from './tools.js';
