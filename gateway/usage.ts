/** Token counts of one completion, whatever API shape reported them. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
}

/** Reads `usage` from a chat/completions object or a Responses API object or event. */
export function usageOf(payload: unknown): Usage | undefined {
  if (payload === null || typeof payload !== 'object') return undefined;
  const p = payload as { usage?: unknown; response?: { usage?: unknown } };
  const usage = (p.usage ?? p.response?.usage) as Record<string, unknown> | null | undefined;
  if (!usage || typeof usage !== 'object') return undefined;
  const details = (usage.prompt_tokens_details ?? usage.input_tokens_details) as { cached_tokens?: unknown } | null | undefined;
  return {
    promptTokens: numberOr0(usage.prompt_tokens ?? usage.input_tokens),
    completionTokens: numberOr0(usage.completion_tokens ?? usage.output_tokens),
    cachedTokens: numberOr0(details?.cached_tokens),
  };
}

/**
 * The usage of a complete JSON response without parsing all of it: engines write `usage` last, so
 * the object after the last `"usage":` is parsed alone. Falls back to a full parse.
 */
export function usageOfJson(text: string): Usage | undefined {
  const at = text.lastIndexOf('"usage"');
  if (at < 0) return undefined;
  const open = text.indexOf('{', at);
  if (open >= 0) {
    const close = matchingBrace(text, open);
    if (close > 0) {
      try {
        return usageOf({ usage: JSON.parse(text.slice(open, close + 1)) });
      } catch {
        // fall through to the full parse
      }
    }
  }
  try {
    return usageOf(JSON.parse(text));
  } catch {
    return undefined;
  }
}

function matchingBrace(text: string, open: number): number {
  let depth = 0;
  let inString = false;
  for (let i = open; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92 /* \ */) i++;
      else if (ch === 34 /* " */) inString = false;
    } else if (ch === 34) inString = true;
    else if (ch === 123 /* { */) depth++;
    else if (ch === 125 /* } */ && --depth === 0) return i;
  }
  return -1;
}

function numberOr0(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}
