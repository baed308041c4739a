// The test-hook markers `[[sim:answer TEXT]]` and `[[sim:tool NAME ARGS_JSON]]` (see simulator/content.ts).

export interface Markers {
  /** TEXT of the first `[[sim:answer ...]]`, if any. */
  answer: string | undefined;
  /** Every `[[sim:tool ...]]`, in order; `args` is the raw ARGS_JSON text. */
  tools: { name: string; args: string }[];
}

const OPEN = '[[sim:';
const CLOSE = ']]';

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';

/** Index just past the balanced JSON object/array starting at `start`, or -1 when it never closes. */
function jsonEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i += 1;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth += 1;
    else if (c === '}' || c === ']') {
      depth -= 1;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

function skipSpace(text: string, at: number): number {
  let i = at;
  while (isSpace(text[i])) i += 1;
  return i;
}

/** A tool marker whose body starts at `at` (just after `tool`); the index after its `]]`, or -1. */
function parseTool(text: string, at: number, into: Markers['tools']): number {
  const nameStart = skipSpace(text, at);
  let nameEnd = nameStart;
  while (nameEnd < text.length && !isSpace(text[nameEnd]) && !text.startsWith(CLOSE, nameEnd)) nameEnd += 1;
  if (nameEnd === nameStart) return -1;
  const name = text.slice(nameStart, nameEnd);
  const argsStart = skipSpace(text, nameEnd);
  const c = text[argsStart];
  if (c === '{' || c === '[') {
    const end = jsonEnd(text, argsStart);
    if (end !== -1) {
      const after = skipSpace(text, end);
      if (text.startsWith(CLOSE, after)) {
        into.push({ name, args: text.slice(argsStart, end) });
        return after + CLOSE.length;
      }
    }
  }
  const close = text.indexOf(CLOSE, argsStart);
  if (close === -1) return -1;
  into.push({ name, args: text.slice(argsStart, close).trim() || '{}' });
  return close + CLOSE.length;
}

export function parseMarkers(text: string): Markers {
  const markers: Markers = { answer: undefined, tools: [] };
  let at = text.indexOf(OPEN);
  while (at !== -1) {
    const head = at + OPEN.length;
    let next = head;
    if (text.startsWith('answer', head) && (isSpace(text[head + 6]) || text.startsWith(CLOSE, head + 6))) {
      const start = isSpace(text[head + 6]) ? head + 7 : head + 6;
      const close = text.indexOf(CLOSE, start);
      if (close === -1) break;
      markers.answer ??= text.slice(start, close);
      next = close + CLOSE.length;
    } else if (text.startsWith('tool', head) && isSpace(text[head + 4])) {
      const end = parseTool(text, head + 4, markers.tools);
      if (end !== -1) next = end;
    }
    at = text.indexOf(OPEN, next);
  }
  return markers;
}
