// Multi-stage agent runs for the affinity benchmark, generated from a seed: each run reads its own
// document (1–2k tokens) under a system prompt every run shares, then goes through its stages as one
// growing conversation (plan → research → draft → review): each stage's prompt is the previous
// stage's prompt, its answer and the next instruction, so a run's prefix grows stage by stage and is
// worth keeping on the replica that holds it. Between stages the run waits on a tool.
import { tokenIds } from '../../simulator/tokens.js';
import { Random } from './random.js';

export const STAGES = ['plan', 'research', 'draft', 'review', 'revise', 'summarize'] as const;

export const AGENT_SYSTEM_PROMPT = [
  'You are one agent in a multi-agent analysis pipeline. Each run studies one document. Work in stages:',
  'plan the analysis, research the document for evidence, draft the findings, review the draft against the',
  'evidence, and so on, as the user asks. Quote the document where it matters, keep numbers exact, state',
  'assumptions, and never invent sources. Answer in plain prose with short paragraphs. When a stage asks',
  'for a list, give a numbered list. When a stage asks for a verdict, give it first and then the reasons.',
].join(' ');

const TOPICS = ['supply chain', 'data center', 'clinical trial', 'municipal budget', 'retail chain', 'wind farm', 'payments platform', 'freight railway', 'research lab', 'insurance portfolio'];
const FACTS = ['revenue', 'cost per unit', 'headcount', 'latency', 'error rate', 'capacity', 'churn', 'throughput', 'inventory', 'margin'];
const CHANGES = ['rose', 'fell', 'held steady', 'doubled', 'halved', 'recovered', 'slipped', 'peaked', 'stabilised', 'surged'];
const CAUSES = ['a new supplier contract', 'the spring outage', 'a pricing change', 'seasonal demand', 'the migration', 'a staffing shortfall', 'new regulation', 'an audit finding', 'a hardware refresh', 'the merger'];

const INSTRUCTIONS: Record<(typeof STAGES)[number], string> = {
  plan: 'Plan the analysis of this document: list the questions to answer and the evidence each needs.',
  research: 'Carry out the research step of your plan: collect the evidence from the document for each question.',
  draft: 'Draft the findings from the evidence you collected, one short paragraph per question.',
  review: 'Review the draft against the evidence: give a verdict, then list every claim that needs a fix.',
  revise: 'Revise the draft with the fixes from the review.',
  summarize: 'Summarize the revised findings in five sentences for an executive reader.',
};

export interface AgentRun {
  id: number;
  document: string;
  documentTokens: number;
  /** Engine ms the run waits on a tool after each stage but the last. */
  toolWaitsMs: number[];
}

export function buildAgentRuns(options: { seed: number; runs: number; stages: number; minTokens: number; maxTokens: number; minToolMs: number; maxToolMs: number }): AgentRun[] {
  const r = new Random(options.seed);
  return Array.from({ length: options.runs }, (_, id) => {
    const target = r.int(options.minTokens, options.maxTokens);
    const topic = r.pick(TOPICS);
    const sentences = [`Document ${options.seed}-${id}: quarterly report of a ${topic}.`];
    let tokens = tokenIds(sentences[0]!).length;
    while (tokens < target) {
      const s = `In week ${r.int(1, 52)}, ${r.pick(FACTS)} ${r.pick(CHANGES)} to ${r.int(10, 9999)} after ${r.pick(CAUSES)}, according to team ${r.int(1, 99)}.`;
      sentences.push(s);
      tokens += tokenIds(` ${s}`).length;
    }
    const document = sentences.join(' ');
    const toolWaitsMs = Array.from({ length: options.stages - 1 }, () => r.int(options.minToolMs, options.maxToolMs));
    return { id, document, documentTokens: tokenIds(document).length, toolWaitsMs };
  });
}

export type Message = { role: 'system' | 'user' | 'assistant'; content: string };

/** The conversation for stage `index`, given the answers of the stages before it. */
export function stageMessages(run: AgentRun, index: number, answers: readonly string[]): Message[] {
  const messages: Message[] = [
    { role: 'system', content: AGENT_SYSTEM_PROMPT },
    { role: 'user', content: `${run.document}\n\n${INSTRUCTIONS[STAGES[0]]}` },
  ];
  for (let i = 1; i <= index; i++) {
    messages.push({ role: 'assistant', content: answers[i - 1] ?? '' });
    messages.push({ role: 'user', content: INSTRUCTIONS[STAGES[i]!] });
  }
  return messages;
}
