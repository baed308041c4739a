// Strings and numbers for generated JSON: formats, length and range bounds, and a few hints taken
// from the property name so that `{"city": "Oslo", "email": "ada.turing@example.com"}` looks right.

import type { Rng } from './random.js';
import { NOUNS, city, personName, phrase, sentence, titleCase, word } from './words.js';

type Schema = Record<string, unknown>;

/** A non-negative integer bound, or the fallback when the keyword is absent or nonsense. */
export function bound(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.floor(value) : fallback;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

function date(rng: Rng): string {
  return `${rng.int(2020, 2026)}-${pad2(rng.int(1, 12))}-${pad2(rng.int(1, 28))}`;
}

function time(rng: Rng): string {
  return `${pad2(rng.int(0, 23))}:${pad2(rng.int(0, 59))}:${pad2(rng.int(0, 59))}`;
}

function email(rng: Rng): string {
  return `${personName(rng).toLowerCase().replace(' ', '.')}@example.com`;
}

function url(rng: Rng): string {
  return `https://example.com/${word(rng)}/${word(rng)}-${rng.int(1, 999)}`;
}

function uuid(rng: Rng): string {
  const variant = rng.pick(['8', '9', 'a', 'b']);
  return `${rng.hex(8)}-${rng.hex(4)}-4${rng.hex(3)}-${variant}${rng.hex(3)}-${rng.hex(12)}`;
}

function formatted(format: string, rng: Rng): string | undefined {
  switch (format) {
    case 'date-time':
      return `${date(rng)}T${time(rng)}Z`;
    case 'date':
      return date(rng);
    case 'time':
      return `${time(rng)}Z`;
    case 'email':
    case 'idn-email':
      return email(rng);
    case 'uri':
    case 'url':
    case 'iri':
    case 'uri-reference':
    case 'iri-reference':
      return url(rng);
    case 'uuid':
      return uuid(rng);
    case 'hostname':
    case 'idn-hostname':
      return `${word(rng)}.example.com`;
    case 'ipv4':
      return `10.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
    case 'ipv6':
      return `fd00::${rng.hex(4)}:${rng.hex(4)}`;
    case 'duration':
      return `PT${rng.int(1, 90)}M`;
    default:
      return undefined;
  }
}

const SENTENCE_WORDS = new Set([
  'reason', 'reasoning', 'explanation', 'rationale', 'description', 'summary', 'answer', 'content', 'text',
  'message', 'comment', 'thought', 'thoughts', 'feedback', 'analysis', 'justification', 'response', 'body',
]);

/** The words of a property name: `userEmail`, `user_email` and `user-email` all give [user, email]. */
export function keyWords(key: string): string[] {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
}

/** Text that suits the property it fills. */
function hinted(key: string, rng: Rng): string {
  const words = keyWords(key);
  const has = (...candidates: string[]): boolean => candidates.some((c) => words.includes(c));
  const last = words[words.length - 1] ?? '';
  if (has('email')) return email(rng);
  if (has('url', 'uri', 'link', 'website', 'href', 'homepage')) return url(rng);
  if (last === 'id' || last === 'uuid') return `${word(rng)}-${rng.hex(6)}`;
  if (has('date', 'day', 'birthday') || last === 'at') return date(rng);
  if (has('city', 'location', 'place', 'destination', 'origin')) return city(rng);
  if (last === 'name' && words.length === 1) return personName(rng);
  if (last === 'author' || (last === 'name' && has('full', 'first', 'user', 'person', 'customer', 'author', 'contact'))) {
    return personName(rng);
  }
  if (has('title', 'name', 'heading', 'label', 'topic')) return titleCase(phrase(rng));
  if (words.some((w) => SENTENCE_WORDS.has(w))) return sentence(rng);
  return phrase(rng);
}

/**
 * Pads with sentences or shortens so that min <= length <= max (ASCII, so UTF-16 units = code
 * points). Shortening prefers a word boundary, then a whole word that fits, then a hard cut.
 * Padding collects parts and joins once: appending to and re-testing the growing string per
 * sentence made a large minLength cost quadratic time.
 */
function fitLength(text: string, min: number, max: number, rng: Rng): string {
  let out = text;
  if (out.length < min) {
    const parts = [text];
    let length = text.length;
    let last = text.slice(-1);
    while (length < min) {
      const part = `${length === 0 ? '' : /[.!?]/.test(last) ? ' ' : '. '}${sentence(rng)}`;
      parts.push(part);
      length += part.length;
      if (part !== '') last = part.slice(-1);
    }
    out = parts.join('');
  }
  if (out.length <= max) return out;
  const space = out.lastIndexOf(' ', max);
  const cut = out.slice(0, space).replace(/[\s,.]+$/, '');
  if (space > 0 && cut.length >= Math.max(min, 1)) return cut;
  const fits = NOUNS.filter((w) => w.length >= min && w.length <= max);
  return fits.length > 0 ? rng.pick(fits) : out.slice(0, max);
}

/**
 * A string for the schema. `room` caps how long a minLength can make it: the characters the output
 * can still show before max_tokens cuts it (past that, the schema is broken anyway, as on a real
 * engine that stops at max_tokens).
 */
export function generateString(s: Schema, rng: Rng, key: string, room = Number.POSITIVE_INFINITY): string {
  const min = Math.min(bound(s.minLength, 0), room);
  const max = Math.max(min, bound(s.maxLength, Number.POSITIVE_INFINITY));
  const text = (typeof s.format === 'string' ? formatted(s.format, rng) : undefined) ?? hinted(key, rng);
  return fitLength(text, min, max, rng);
}

function decimals(step: number): number {
  const [mantissa = '', exponent] = step.toExponential().split('e');
  const fraction = mantissa.split('.')[1]?.length ?? 0;
  return Math.min(20, Math.max(0, fraction - Number(exponent ?? 0)));
}

/** The default range when the schema gives no bound: plausible for the property name. */
function defaultRange(key: string, integer: boolean): [number, number] {
  const words = keyWords(key);
  const has = (...candidates: string[]): boolean => candidates.some((c) => words.includes(c));
  if (!integer && has('confidence', 'probability', 'likelihood', 'ratio', 'fraction', 'certainty')) return [0, 1];
  if (has('year')) return [1990, 2030];
  if (has('age')) return [18, 90];
  return [0, 100];
}

export function generateNumber(s: Schema, rng: Rng, integer: boolean, key: string): number {
  let lo = typeof s.minimum === 'number' ? s.minimum : Number.NEGATIVE_INFINITY;
  let hi = typeof s.maximum === 'number' ? s.maximum : Number.POSITIVE_INFINITY;
  let loExclusive = s.exclusiveMinimum === true;
  let hiExclusive = s.exclusiveMaximum === true;
  if (typeof s.exclusiveMinimum === 'number' && s.exclusiveMinimum >= lo) {
    lo = s.exclusiveMinimum;
    loExclusive = true;
  }
  if (typeof s.exclusiveMaximum === 'number' && s.exclusiveMaximum <= hi) {
    hi = s.exclusiveMaximum;
    hiExclusive = true;
  }
  if (!Number.isFinite(lo) && !Number.isFinite(hi)) [lo, hi] = defaultRange(key, integer);
  else if (!Number.isFinite(lo)) lo = hi - 100;
  else if (!Number.isFinite(hi)) hi = lo + 100;
  // Keep wide ranges to a plausible window of about a thousand, near zero when zero is inside.
  if (hi - lo > 1000) {
    if (lo <= 0 && hi >= 0) [lo, hi] = [Math.max(lo, 0), Math.min(hi, 1000)];
    else if (lo > 0) hi = lo + 1000;
    else lo = hi - 1000;
  }
  const multipleOf = typeof s.multipleOf === 'number' && s.multipleOf > 0 ? s.multipleOf : undefined;
  if (integer || multipleOf !== undefined) {
    const step = multipleOf !== undefined && (!integer || Number.isInteger(multipleOf)) ? multipleOf : 1;
    let kLo = Math.ceil(lo / step);
    let kHi = Math.floor(hi / step);
    if (loExclusive && kLo * step <= lo) kLo += 1;
    if (hiExclusive && kHi * step >= hi) kHi -= 1;
    if (kLo > kHi) return integer ? Math.ceil(lo) : lo; // unsatisfiable bounds: the nearest thing
    const value = rng.int(kLo, kHi) * step;
    return Number.isInteger(step) ? value : Number(value.toFixed(decimals(step)));
  }
  const value = Math.round((lo + rng.next() * (hi - lo)) * 100) / 100;
  const inside = (v: number): boolean => (loExclusive ? v > lo : v >= lo) && (hiExclusive ? v < hi : v <= hi);
  if (inside(value)) return value;
  const middle = (lo + hi) / 2;
  return inside(middle) ? middle : lo;
}
