// Terminal text: optional colour, and fitting a line to the terminal's width (a wrapped line
// would break the in-place redraw, which moves the cursor up by the number of lines drawn).

const ESC = '\u001b[';
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;
const ANSI_AT = /\u001b\[[0-9;?]*[A-Za-z]/y;

export interface Paint {
  dim(text: string): string;
  bold(text: string): string;
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

const code = (open: number, close: number) => (text: string) => `${ESC}${open}m${text}${ESC}${close}m`;
const plain = (text: string) => text;

export function paint(colour: boolean): Paint {
  if (!colour) return { dim: plain, bold: plain, green: plain, red: plain, yellow: plain, cyan: plain };
  return { dim: code(2, 22), bold: code(1, 22), green: code(32, 39), red: code(31, 39), yellow: code(33, 39), cyan: code(36, 39) };
}

export function visibleLength(text: string): number {
  return [...text.replace(ANSI, '')].length;
}

/** Cuts a line to `width` visible characters, keeping escape sequences whole and resetting style. */
export function fit(text: string, width: number): string {
  if (visibleLength(text) <= width) return text;
  let out = '';
  let visible = 0;
  for (let i = 0; i < text.length && visible < width - 1; ) {
    ANSI_AT.lastIndex = i;
    const match = ANSI_AT.exec(text);
    if (match) {
      out += match[0];
      i += match[0].length;
      continue;
    }
    const char = String.fromCodePoint(text.codePointAt(i)!);
    out += char;
    i += char.length;
    visible += 1;
  }
  return `${out}…${text.includes(ESC) ? `${ESC}0m` : ''}`;
}

export function padEnd(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - visibleLength(text)));
}

export const cursor = {
  /** To the start of the line `n` lines up. */
  up: (n: number) => (n > 0 ? `${ESC}${n}F` : '\r'),
  clearBelow: `${ESC}J`,
  hide: `${ESC}?25l`,
  show: `${ESC}?25h`,
};

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}

export function formatTokens(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatUsd(usd: number): string {
  return `$${usd < 0.01 ? usd.toFixed(5) : usd.toFixed(4)}`;
}
