/**
 * Record values as plain JSON, and the JSON document search sinks index
 * (see README.md for the document shape and why it looks that way).
 */
import type { Attributes, PipelineRecord, Value } from "../../core/pipeline/record.js";
import { isoMillis, recordTimeUnixNano } from "./time.js";

export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
export type JsonObject = { [key: string]: JsonValue };

const MAX_EXACT = 2n ** 53n;

/**
 * Sets a key on a plain object even when the key is "__proto__", which a
 * plain assignment would turn into a prototype change and lose the value.
 */
export function setKey<T>(target: Record<string, T>, key: string, value: T): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

export function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** A double as JSON: NaN and the infinities have no JSON number, so they become strings. */
export function jsonNumber(n: number): number | string {
  if (Number.isFinite(n)) return n;
  return Number.isNaN(n) ? "NaN" : n > 0 ? "Infinity" : "-Infinity";
}

/** An int64 as JSON: a number while doubles hold it exactly, a decimal string past that. */
export function jsonInt(n: bigint): number | string {
  return n <= MAX_EXACT && n >= -MAX_EXACT ? Number(n) : n.toString();
}

/**
 * A record Value as a JSON-safe value: ints become numbers (decimal strings
 * past 2^53), bytes base64, NaN and the infinities strings, kvlists objects.
 */
export function toJsonValue(v: Value): JsonValue {
  switch (typeof v) {
    case "string":
    case "boolean":
      return v;
    case "number":
      return jsonNumber(v);
    case "bigint":
      return jsonInt(v);
    default:
      break;
  }
  if (v === null) return null;
  if (v instanceof Uint8Array) return base64(v);
  if (Array.isArray(v)) return v.map(toJsonValue);
  return attributesToJson(v);
}

export function attributesToJson(attrs: Attributes): JsonObject {
  const out: JsonObject = {};
  for (const key of Object.keys(attrs)) setKey(out, key, toJsonValue(attrs[key] as Value));
  return out;
}

/**
 * A value as one string: strings as they are; arrays, kvlists and other
 * scalars as their JSON text (42, 1.5, true, ["a",1], {"k":"v"}), NaN and
 * the infinities by name, bytes in base64, an empty value as "".
 */
export function valueText(v: Value): string {
  if (typeof v === "string") return v;
  if (v === null) return "";
  const j = toJsonValue(v);
  return typeof j === "string" ? j : JSON.stringify(j);
}

export interface SearchDocumentBody {
  /** String and scalar bodies. */
  text?: string;
  /** Map bodies as they are; array bodies as {"value": [...]}. */
  structured?: JsonObject;
}

/** The document search sinks index for one record; README.md describes every field. */
export interface SearchDocument {
  "@timestamp": string;
  time_unix_nano: string;
  observed_timestamp?: string;
  observed_time_unix_nano?: string;
  event_id: string;
  kind: PipelineRecord["kind"];
  event_name?: string;
  severity_text?: string;
  severity_number?: number;
  trace_id?: string;
  span_id?: string;
  flags?: number;
  body?: SearchDocumentBody;
  attributes: JsonObject;
  dropped_attributes_count?: number;
  resource: {
    attributes: JsonObject;
    dropped_attributes_count?: number;
    schema_url?: string;
  };
  scope: {
    name?: string;
    version?: string;
    attributes: JsonObject;
    dropped_attributes_count?: number;
    schema_url?: string;
  };
}

export function searchDocumentBody(v: Value): SearchDocumentBody | undefined {
  if (v === null) return undefined;
  if (Array.isArray(v)) return { structured: { value: v.map(toJsonValue) } };
  if (typeof v === "object" && !(v instanceof Uint8Array)) return { structured: attributesToJson(v) };
  return { text: valueText(v) };
}

/**
 * The search document of a record. Empty strings and zero counts are left
 * out, as OTLP treats them as absent; attributes objects are always there
 * so queries and mappings can rely on the paths.
 */
export function toSearchDocument(r: PipelineRecord): SearchDocument {
  const time = recordTimeUnixNano(r);
  // Filled in the documented field order, which is the order readers see.
  const doc = {} as SearchDocument;
  doc["@timestamp"] = isoMillis(time);
  doc.time_unix_nano = time.toString();
  if (r.observedTimeUnixNano !== 0n) {
    doc.observed_timestamp = isoMillis(r.observedTimeUnixNano);
    doc.observed_time_unix_nano = r.observedTimeUnixNano.toString();
  }
  doc.event_id = r.eventId;
  doc.kind = r.kind;
  if (r.eventName !== "") doc.event_name = r.eventName;
  if (r.severityText !== "") doc.severity_text = r.severityText;
  if (r.severityNumber !== 0) doc.severity_number = r.severityNumber;
  if (r.traceId !== "") doc.trace_id = r.traceId;
  if (r.spanId !== "") doc.span_id = r.spanId;
  if (r.flags !== 0) doc.flags = r.flags;
  const body = searchDocumentBody(r.body);
  if (body !== undefined) doc.body = body;
  doc.attributes = attributesToJson(r.attributes);
  if (r.droppedAttributesCount !== 0) doc.dropped_attributes_count = r.droppedAttributesCount;
  const resource: SearchDocument["resource"] = { attributes: attributesToJson(r.resource.attributes) };
  if (r.resource.droppedAttributesCount !== 0) {
    resource.dropped_attributes_count = r.resource.droppedAttributesCount;
  }
  if (r.resource.schemaUrl !== "") resource.schema_url = r.resource.schemaUrl;
  doc.resource = resource;
  const scope = {} as SearchDocument["scope"];
  if (r.scope.name !== "") scope.name = r.scope.name;
  if (r.scope.version !== "") scope.version = r.scope.version;
  scope.attributes = attributesToJson(r.scope.attributes);
  if (r.scope.droppedAttributesCount !== 0) scope.dropped_attributes_count = r.scope.droppedAttributesCount;
  if (r.scope.schemaUrl !== "") scope.schema_url = r.scope.schemaUrl;
  doc.scope = scope;
  return doc;
}
