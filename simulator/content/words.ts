// A fixed vocabulary and a tiny sentence grammar: output that reads like English prose without any model.

import type { Rng } from './random.js';

export const NOUNS = [
  'system', 'request', 'model', 'cache', 'workflow', 'agent', 'user', 'result', 'query', 'server',
  'token', 'schedule', 'budget', 'policy', 'report', 'record', 'message', 'signal', 'pattern', 'process',
  'network', 'document', 'review', 'summary', 'answer', 'question', 'plan', 'task', 'team', 'project',
  'context', 'session', 'stage', 'pipeline', 'memory', 'batch', 'queue', 'response', 'decision', 'metric',
  'source', 'value', 'update', 'version', 'service', 'client', 'feature', 'change', 'note', 'example',
  'method', 'detail', 'option', 'step', 'goal', 'issue', 'path', 'window', 'file', 'table',
  'field', 'list', 'event', 'rule', 'limit', 'estimate', 'draft', 'outline', 'approach', 'design',
] as const;

export const ADJECTIVES = [
  'quick', 'careful', 'simple', 'stable', 'recent', 'large', 'small', 'clear', 'useful', 'efficient',
  'shared', 'local', 'remote', 'final', 'initial', 'typical', 'reliable', 'complete', 'partial', 'new',
  'current', 'previous', 'main', 'separate', 'common', 'specific', 'primary', 'robust', 'modest', 'steady',
] as const;

const VERBS = [
  'handles', 'improves', 'reduces', 'tracks', 'returns', 'updates', 'processes', 'reviews', 'describes',
  'explains', 'supports', 'follows', 'requires', 'shows', 'builds', 'checks', 'uses', 'keeps', 'moves',
  'limits', 'measures', 'schedules', 'routes', 'stores', 'combines', 'compares', 'extends', 'selects',
  'confirms', 'summarizes',
] as const;

const ADVERBS = [
  'quickly', 'carefully', 'usually', 'often', 'clearly', 'already', 'still', 'rarely', 'gradually',
  'directly', 'mostly', 'simply',
] as const;

const PREPOSITIONS = [
  'for', 'with', 'in', 'from', 'across', 'during', 'after', 'before', 'within', 'through', 'under', 'around',
] as const;

const DETERMINERS = ['the', 'the', 'the', 'a', 'each', 'every', 'this', 'that', 'our', 'one'] as const;

const OPENERS = [
  'However,', 'In practice,', 'As a result,', 'For example,', 'In addition,', 'Overall,', 'Meanwhile,',
  'In short,', 'Even so,', 'First,', 'Then,', 'Finally,',
] as const;

const FIRST_NAMES = ['Ada', 'Alan', 'Grace', 'Linus', 'Barbara', 'Edsger', 'Margaret', 'Ken', 'Frances', 'Donald'];
const LAST_NAMES = ['Lovelace', 'Turing', 'Hopper', 'Torvalds', 'Liskov', 'Dijkstra', 'Hamilton', 'Thompson', 'Allen', 'Knuth'];
const CITIES = ['Paris', 'Tokyo', 'Nairobi', 'Lima', 'Oslo', 'Toronto', 'Seoul', 'Madrid', 'Cairo', 'Sydney'];

function nounPhrase(rng: Rng, out: string[]): void {
  const det = rng.pick(DETERMINERS);
  const adjective = rng.chance(0.4) ? rng.pick(ADJECTIVES) : undefined;
  const noun = rng.pick(NOUNS);
  const next = adjective ?? noun;
  out.push(det === 'a' && /^[aeiou]/.test(next) ? 'an' : det);
  if (adjective) out.push(adjective);
  out.push(noun);
}

function clause(rng: Rng, out: string[]): void {
  nounPhrase(rng, out);
  if (rng.chance(0.25)) out.push(rng.pick(ADVERBS));
  out.push(rng.pick(VERBS));
  nounPhrase(rng, out);
  if (rng.chance(0.5)) {
    out.push(rng.pick(PREPOSITIONS));
    nounPhrase(rng, out);
  }
}

/** One sentence as words; the first is capitalised and the last carries the full stop. */
export function sentenceWords(rng: Rng): string[] {
  const words: string[] = [];
  if (rng.chance(0.25)) words.push(rng.pick(OPENERS));
  clause(rng, words);
  const tail = rng.next();
  if (tail < 0.2) {
    words[words.length - 1] += ',';
    words.push('and');
    clause(rng, words);
  } else if (tail < 0.35) {
    words[words.length - 1] += ',';
    words.push('which', rng.pick(VERBS));
    nounPhrase(rng, words);
  }
  const first = words[0] ?? '';
  words[0] = first.charAt(0).toUpperCase() + first.slice(1);
  words[words.length - 1] += '.';
  return words;
}

export function sentence(rng: Rng): string {
  return sentenceWords(rng).join(' ');
}

/** Prose of roughly minWords..maxWords words, in paragraphs of three to six sentences. */
export function prose(rng: Rng, minWords = 20, maxWords = 200): string {
  const target = rng.int(minWords, Math.max(minWords, maxWords - 15));
  const paragraphs: string[] = [];
  let sentences: string[] = [];
  let perParagraph = rng.int(3, 6);
  let count = 0;
  while (count < target) {
    const words = sentenceWords(rng);
    count += words.length;
    sentences.push(words.join(' '));
    if (sentences.length >= perParagraph) {
      paragraphs.push(sentences.join(' '));
      sentences = [];
      perParagraph = rng.int(3, 6);
    }
  }
  if (sentences.length > 0) paragraphs.push(sentences.join(' '));
  return paragraphs.join('\n\n');
}

/** A short lowercase phrase such as "careful review of the cache". */
export function phrase(rng: Rng): string {
  const words: string[] = [];
  if (rng.chance(0.5)) words.push(rng.pick(ADJECTIVES));
  words.push(rng.pick(NOUNS));
  if (rng.chance(0.6)) words.push(rng.pick(['of', 'for', 'with', 'in']), rng.pick(['the', 'each', 'a']), rng.pick(NOUNS));
  if (words[words.length - 2] === 'a' && /^[aeiou]/.test(words[words.length - 1] ?? '')) words[words.length - 2] = 'an';
  return words.join(' ');
}

export function titleCase(text: string): string {
  return text.replace(/\b[a-z]/g, (c) => c.toUpperCase());
}

export function personName(rng: Rng): string {
  return `${rng.pick(FIRST_NAMES)} ${rng.pick(LAST_NAMES)}`;
}

export function city(rng: Rng): string {
  return rng.pick(CITIES);
}

export function word(rng: Rng): string {
  return rng.pick(NOUNS);
}
