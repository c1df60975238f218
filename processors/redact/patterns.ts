/**
 * Built-in patterns. Each starts with a lookbehind that fails inside a run
 * of the characters it consumes, so the engine only tries positions where
 * a match could begin, and every repetition is bounded: scanning stays
 * linear on megabyte values with no match.
 */

/**
 * Emails are found from their "@" rather than by a regex scanning every
 * letter: the local part is read backwards (at most 64 characters, ASCII
 * specials or letters and digits of any script, as RFC 6531 allows) and the
 * domain with a sticky regex from the "@".
 */
const EMAIL_DOMAIN =
  /(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.){1,8}\p{L}{2,63}(?![\p{L}\p{N}-])/uy;
const LETTER_OR_DIGIT = /^[\p{L}\p{N}]$/u;
const MAX_LOCAL = 64;

/** Length in UTF-16 units of the local-part character ending at `end` (exclusive), 0 if none. */
function localCharBefore(text: string, end: number): number {
  const c = text.charCodeAt(end - 1);
  if (c < 0x80) {
    const ok =
      (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === 0x2e ||
      c === 0x5f ||
      c === 0x25 ||
      c === 0x2b ||
      c === 0x2d;
    return ok ? 1 : 0;
  }
  if (c >= 0xdc00 && c <= 0xdfff && end >= 2) {
    const high = text.charCodeAt(end - 2);
    if (high >= 0xd800 && high <= 0xdbff) return LETTER_OR_DIGIT.test(text.slice(end - 2, end)) ? 2 : 0;
  }
  return LETTER_OR_DIGIT.test(text[end - 1] as string) ? 1 : 0;
}

/** Replaces every email in `text` with what `replace` returns; the same string when there is none. */
export function replaceEmails(text: string, replace: () => string): string {
  let at = text.indexOf("@");
  if (at < 0) return text;
  let out = "";
  let copied = 0;
  while (at >= 0) {
    let start = at;
    let chars = 0;
    for (let n = localCharBefore(text, start); n > 0 && start > copied; n = localCharBefore(text, start)) {
      start -= n;
      chars++;
      if (chars > MAX_LOCAL) break;
    }
    // A local part longer than the limit is not an email; nor is an empty one.
    const localOk = chars > 0 && chars <= MAX_LOCAL;
    EMAIL_DOMAIN.lastIndex = at + 1;
    if (localOk && EMAIL_DOMAIN.test(text)) {
      out += text.slice(copied, start) + replace();
      copied = EMAIL_DOMAIN.lastIndex;
      at = text.indexOf("@", copied);
    } else {
      at = text.indexOf("@", at + 1);
    }
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/** 13 to 19 digits, optionally separated by single spaces or dashes. */
export const CARD = /(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)/g;

/**
 * "Authorization: <scheme> <credentials>" (header, JSON or key=value
 * spelling) or "Bearer <token>". The word-boundary check sits after the
 * first letter, so the engine only stops at an a or a b.
 */
export const BEARER =
  /(?:(a(?<!\wa)uthorization["']?\s*[:=]\s*["']?)[^\s"',;&]+(?:[ \t]+[^\s"',;&]+)?|(b(?<!\wb)earer\s+)[A-Za-z0-9\-._~+/]{8,}=*)/gi;

/** Dashed SSNs that the SSA could issue: no 000, 666 or 9xx area, no 00 group, no 0000 serial. */
export const SSN = /(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])/g;

const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
export const IPV4 = new RegExp(`(?<![\\d.])(?:${OCTET}\\.){3}${OCTET}(?!\\d|\\.\\d)`, "g");

/** Luhn checksum over the digits of `text`, ignoring separators. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) continue;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}
