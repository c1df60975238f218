/**
 * Small helpers over the record model's Value type that every processor
 * needs: own-property reads (attributes are plain objects, so "constructor"
 * or "__proto__" must not resolve to Object.prototype members), safe writes,
 * and text forms of values for matching.
 */
import type { Attributes, PipelineRecord, Value } from "../../core/pipeline/record.js";

/** The attribute's own value, or undefined when absent. */
export function ownValue(attrs: Attributes, key: string): Value | undefined {
  return Object.hasOwn(attrs, key) ? attrs[key] : undefined;
}

/** A record attribute, else the same key on the record's resource. */
export function recordOrResourceValue(r: PipelineRecord, key: string): Value | undefined {
  const v = ownValue(r.attributes, key);
  return v !== undefined ? v : ownValue(r.resource.attributes, key);
}

/** Assigns without letting a "__proto__" key replace the object's prototype. */
export function setAttribute(attrs: Attributes, key: string, value: Value): void {
  if (key === "__proto__") {
    Object.defineProperty(attrs, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    attrs[key] = value;
  }
}

/** Text of a scalar value (string, number, int, bool); undefined for null, bytes, arrays and kvlists. */
export function scalarText(v: Value | undefined): string | undefined {
  switch (typeof v) {
    case "string":
      return v;
    case "number":
    case "bigint":
    case "boolean":
      return String(v);
    default:
      return undefined;
  }
}

export function isKvlist(v: Value | undefined): v is { [key: string]: Value } {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/**
 * JSON-like text of any value, for matching regexes against structured
 * bodies: ints print as numbers, bytes as base64 strings, NaN and
 * infinities as JSON.stringify prints them (null).
 */
export function valueToJsonText(v: Value): string {
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "bigint":
      return v.toString();
    case "number":
    case "boolean":
      return JSON.stringify(v);
    default:
      break;
  }
  if (v === null) return "null";
  if (v instanceof Uint8Array)
    return `"${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64")}"`;
  if (Array.isArray(v)) {
    let out = "[";
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out += ",";
      out += valueToJsonText(v[i] as Value);
    }
    return `${out}]`;
  }
  let out = "{";
  let first = true;
  for (const key in v) {
    if (!Object.hasOwn(v, key)) continue;
    if (!first) out += ",";
    first = false;
    out += `${JSON.stringify(key)}:${valueToJsonText(v[key] as Value)}`;
  }
  return `${out}}`;
}

/**
 * A value from YAML or JSON configuration as a record Value: whole numbers
 * become ints (bigint) the way OTLP would carry them, other numbers doubles.
 */
export function configValue(v: unknown): Value {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case "string":
    case "boolean":
    case "bigint":
      return v;
    case "number":
      return Number.isSafeInteger(v) ? BigInt(v) : v;
    default:
      break;
  }
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(configValue);
  if (typeof v === "object") {
    const out: { [key: string]: Value } = {};
    for (const [k, item] of Object.entries(v)) setAttribute(out, k, configValue(item));
    return out;
  }
  return String(v);
}

/**
 * A deep copy of arrays and kvlists, so records given the same configured
 * value don't share objects a later processor might change in place.
 * Scalars are immutable and returned as they are.
 */
export function cloneValue(v: Value): Value {
  if (typeof v !== "object" || v === null) return v;
  if (v instanceof Uint8Array) return v.slice();
  if (Array.isArray(v)) return v.map(cloneValue);
  const out: { [key: string]: Value } = {};
  for (const key in v) if (Object.hasOwn(v, key)) setAttribute(out, key, cloneValue(v[key] as Value));
  return out;
}
