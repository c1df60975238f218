/**
 * logfmt: key=value pairs separated by spaces; values bare or double-quoted
 * with Go-style escapes. A key without "=" is a flag (true when typed, ""
 * otherwise). Bare values may contain "=" (base64 padding is common); a
 * stray quote anywhere else, an unterminated quote or text glued to a
 * closing quote make the line invalid, and so does a line without a single
 * key=value pair, so plain prose is not taken for a list of flags.
 */
import type { FieldBuffer } from "./fields.js";

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

const ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
};

/** Reads a quoted value whose opening quote is at `open`; returns [value, index after the closing quote]. */
function quoted(text: string, open: number): [string, number] | undefined {
  let pos = open + 1;
  const close = text.indexOf('"', pos);
  if (close < 0) return undefined;
  const backslash = text.indexOf("\\", pos);
  if (backslash < 0 || backslash > close) return [text.slice(pos, close), close + 1];
  let out = "";
  let chunk = pos;
  while (pos < text.length) {
    const c = text.charCodeAt(pos);
    if (c === 0x22) return [out + text.slice(chunk, pos), pos + 1];
    if (c !== 0x5c) {
      pos++;
      continue;
    }
    out += text.slice(chunk, pos);
    const e = text[pos + 1];
    if (e === undefined) return undefined;
    if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(pos + 2, pos + 6))) {
      out += String.fromCharCode(Number.parseInt(text.slice(pos + 2, pos + 6), 16));
      pos += 6;
    } else {
      // Unknown escapes are kept as written rather than failing the line.
      out += Object.hasOwn(ESCAPES, e) ? ESCAPES[e] : `\\${e}`;
      pos += 2;
    }
    chunk = pos;
  }
  return undefined;
}

/** Returns undefined on success, else a short reason. */
export function parseLogfmt(text: string, out: FieldBuffer): string | undefined {
  const n = text.length;
  let pos = 0;
  let pairs = 0;
  for (;;) {
    while (pos < n && isSpace(text.charCodeAt(pos))) pos++;
    if (pos >= n) break;
    const keyStart = pos;
    for (; pos < n; pos++) {
      const c = text.charCodeAt(pos);
      if (isSpace(c) || c === 0x3d || c === 0x22) break;
    }
    if (pos === keyStart) return "invalid logfmt";
    const key = text.slice(keyStart, pos);
    const sep = text.charCodeAt(pos);
    if (sep !== 0x3d) {
      if (sep === 0x22) return "invalid logfmt";
      out.add(key, out.typed ? true : "");
      continue;
    }
    pos++;
    if (text.charCodeAt(pos) === 0x22) {
      const q = quoted(text, pos);
      if (!q) return "invalid logfmt";
      pos = q[1];
      if (pos < n && !isSpace(text.charCodeAt(pos))) return "invalid logfmt";
      out.add(key, q[0]);
    } else {
      const valueStart = pos;
      for (; pos < n; pos++) {
        const c = text.charCodeAt(pos);
        if (isSpace(c)) break;
        if (c === 0x22) return "invalid logfmt";
      }
      out.addText(key, text.slice(valueStart, pos));
    }
    pairs++;
  }
  return pairs === 0 ? "no key=value pairs" : undefined;
}
