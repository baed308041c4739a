// `${VAR}` and `${VAR:-fallback}` in any string value of the parsed file, so secrets stay out of it.
// Interpolating after parsing (not in the raw text) means a value can never inject YAML structure:
// substituted text is never scanned again, and `$${` is a literal `${` (the Docker Compose escape).
// A fallback may itself hold a reference (`${A:-${B:-x}}`), read only when A is unset or empty.
//
// A value that is exactly one reference (`port: ${PORT:-9000}`) is recorded as an EnvLeaf, so the
// loader can give it the number or boolean YAML would have read from the text (see typedScalar),
// keeping the string where the schema wants one: an api key `12345` stays "12345".

import { parse as parseYaml } from 'yaml';

export interface EnvProblem {
  path: (string | number)[];
  message: string;
}

/** A string value that was exactly one `${…}` reference, and the text it became. */
export interface EnvLeaf {
  path: (string | number)[];
  text: string;
}

type Env = Record<string, string | undefined>;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

class BadReference extends Error {}

interface Scan {
  text: string;
  /** Index just past what was read (past the closing `}` of a reference or a fallback). */
  end: number;
}

/**
 * Reads `source` from `start`: plain text, `$${` (→ `${`) and references, until the end or, inside a
 * fallback, the first `}` at this level. Names of unset variables that were needed go to `unset`.
 */
function scan(source: string, start: number, env: Env, unset: string[], inFallback: boolean): Scan {
  let text = '';
  let i = start;
  let literal = 0; // `$${` not yet closed: its `}` is text, so a fallback can be a literal `$${B}`
  while (i < source.length) {
    if (source.startsWith('$${', i)) {
      text += '${';
      literal += 1;
      i += 3;
    } else if (literal > 0 && source[i] === '}') {
      text += '}';
      literal -= 1;
      i += 1;
    } else if (source.startsWith('${', i)) {
      const ref = reference(source, i, env, unset);
      text += ref.text;
      i = ref.end;
    } else if (inFallback && source[i] === '}') {
      return { text, end: i + 1 };
    } else {
      text += source[i];
      i += 1;
    }
  }
  if (inFallback) throw new BadReference('a ${NAME:-fallback} is not closed by }');
  return { text, end: i };
}

/** The reference starting at `source[start]` (`${`). */
function reference(source: string, start: number, env: Env, unset: string[]): Scan {
  const name = NAME.exec(source.slice(start + 2))?.[0];
  if (!name) throw new BadReference(`"${source.slice(start, start + 8)}" is not a \${NAME} reference (write $\${ for a literal \${)`);
  const at = start + 2 + name.length;
  const found = env[name];
  if (source[at] === '}') {
    if (found === undefined) unset.push(name);
    return { text: found ?? '', end: at + 1 };
  }
  if (source.startsWith(':-', at)) {
    // As in a shell or Compose, `:-` falls back when the variable is unset or empty (`A= orla serve`).
    // The fallback's own references are needed only when it is used.
    const useFallback = found === undefined || found === '';
    const fallback = scan(source, at + 2, env, useFallback ? unset : [], true);
    return { text: useFallback ? fallback.text : found, end: fallback.end };
  }
  throw new BadReference(`\${${name} must be followed by } or :-fallback} (a literal \${ is written $\${)`);
}

export function interpolateEnv(
  value: unknown,
  env: Env,
  problems: EnvProblem[],
  path: (string | number)[] = [],
  /** Filled with the values that were exactly one reference, for typedScalar. */
  leaves: EnvLeaf[] = [],
): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    const unset: string[] = [];
    let result: Scan;
    let whole = false;
    try {
      result = scan(value, 0, env, unset, false);
      whole = value.startsWith('${') && reference(value, 0, env, []).end === value.length;
    } catch (err) {
      if (!(err instanceof BadReference)) throw err;
      problems.push({ path, message: err.message });
      return value;
    }
    for (const name of unset) {
      problems.push({
        path,
        message: `environment variable ${name} is not set (write \${${name}:-} to allow it to be empty)`,
      });
    }
    if (whole && unset.length === 0) leaves.push({ path, text: result.text });
    return result.text;
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolateEnv(item, env, problems, [...path, i], leaves));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = interpolateEnv(item, env, problems, [...path, key], leaves);
    return out;
  }
  return value;
}

/**
 * The number or boolean YAML reads from `text` (`9000`, `0.5`, `true`), or undefined for anything
 * else. Only a single bare token is handed to the YAML parser, so `:`, `#`, spaces, brackets or
 * quotes in a value can never be read as syntax; everything else stays a string.
 */
export function typedScalar(text: string): number | boolean | undefined {
  if (!/^[A-Za-z0-9_.+-]+$/.test(text)) return undefined;
  const value: unknown = parseYaml(text);
  return typeof value === 'number' || typeof value === 'boolean' ? value : undefined;
}
