/**
 * Regular expressions from configuration. Patterns are JavaScript regexes;
 * a leading inline flag group such as "(?i)" (the RE2/Go spelling people
 * bring from Collector configs) is turned into JS flags, since Node 20's
 * engine does not accept it. Unicode mode is used whenever the pattern is
 * valid in it, so "." and classes never split a surrogate pair; patterns
 * that rely on legacy escapes (like \" or \-) still compile without it.
 */
import { z } from "zod";

const INLINE_FLAGS = /^\(\?([imsx]+)\)/;

export function compileRegex(pattern: string, extraFlags = "", wrap?: (source: string) => string): RegExp {
  let source = pattern;
  let flags = extraFlags;
  const inline = INLINE_FLAGS.exec(source);
  if (inline) {
    const requested = inline[1] as string;
    if (requested.includes("x")) throw new SyntaxError("the x (extended) flag is not supported");
    for (const f of requested) if (!flags.includes(f)) flags += f;
    source = source.slice(inline[0].length);
  }
  if (wrap) source = wrap(source);
  try {
    return new RegExp(source, `${flags}u`);
  } catch {
    return new RegExp(source, flags);
  }
}

/** A config string that must compile as a regex; the message says why it does not. */
export const regexSchema = z.string().superRefine((v, ctx) => {
  try {
    compileRegex(v);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: `invalid regular expression: ${(err as Error).message}` });
  }
});

/**
 * Matches exact text, or a regex written between slashes ("/^checkout\\./i").
 * Used where a field is "a name or a pattern", like event_name.
 */
export interface TextMatcher {
  test(text: string): boolean;
}

const SLASHED = /^\/(.+)\/([ims]*)$/s;

export function compileTextMatcher(spec: string): TextMatcher {
  const m = SLASHED.exec(spec);
  if (m) return compileRegex(m[1] as string, m[2] as string);
  return { test: (text: string) => text === spec };
}

export const textMatcherSchema = z
  .string()
  .min(1)
  .superRefine((v, ctx) => {
    try {
      compileTextMatcher(v);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: `invalid regular expression: ${(err as Error).message}` });
    }
  });
