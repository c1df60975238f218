/**
 * The text the search index gets for a record. Structured values are
 * indexed by their scalar values, one per line, not as JSON text: in JSON a
 * newline inside a string is the two characters \n, and the tokenizer would
 * read "a\nb" as the words "a" and "nb", so a stack trace's lines would
 * become unfindable.
 */
import type { Value } from "../../core/pipeline/record.js";
import { type JsonValue, toJsonValue, valueText } from "../common/json-value.js";

function collect(v: JsonValue, out: string[]): void {
  if (v === null) return;
  if (typeof v === "string") out.push(v);
  else if (typeof v === "number" || typeof v === "boolean") out.push(String(v));
  else if (Array.isArray(v)) for (const x of v) collect(x, out);
  else for (const key of Object.keys(v)) collect(v[key] as JsonValue, out);
}

/** Scalar values of an already JSON-safe value, one per line, in document order. */
export function indexText(v: JsonValue): string {
  const out: string[] = [];
  collect(v, out);
  return out.join("\n");
}

/** A body as indexed: strings as they are, structured bodies by their values. */
export function bodyIndexText(body: Value): string {
  if (body !== null && typeof body === "object" && !(body instanceof Uint8Array)) {
    return indexText(toJsonValue(body));
  }
  return valueText(body);
}
