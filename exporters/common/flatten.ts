/**
 * Attributes as a flat string map, for warehouse Map(String, String)
 * columns: nested kvlists become dotted keys ({"http": {"method": "GET"}} is
 * "http.method" → "GET", the spelling semantic conventions use anyway), and
 * every other value becomes text as valueText() spells it.
 */
import type { Attributes, Value } from "../../core/pipeline/record.js";
import { setKey, valueText } from "./json-value.js";

/**
 * Dotted keys for nested kvlists; an empty kvlist keeps its key with "{}" so
 * the attribute does not vanish. When a flattened key collides with a key
 * that was already dotted ({"a.b": 1, "a": {"b": 2}}), the later one in
 * attribute order wins, as a map column holds one value per key.
 */
export function flattenAttributes(attrs: Attributes): Record<string, string> {
  const out: Record<string, string> = {};
  flattenInto(out, "", attrs);
  return out;
}

function flattenInto(out: Record<string, string>, prefix: string, attrs: Attributes): void {
  for (const key of Object.keys(attrs)) {
    const v = attrs[key] as Value;
    const path = prefix + key;
    if (v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array)) {
      if (Object.keys(v).length === 0) setKey(out, path, "{}");
      else flattenInto(out, `${path}.`, v);
    } else {
      setKey(out, path, valueText(v));
    }
  }
}
