/**
 * Records as OTLP/JSON lines: each line is one ExportLogsServiceRequest
 * ({"resourceLogs":[...]}) in the OTLP JSON mapping, so any OTLP/HTTP
 * receiver (this gateway's included) can take a line as a request body, and
 * the file stays readable with line-oriented tools.
 *
 * Mapping, as the OTLP specification fixes it on top of protobuf JSON:
 * lowerCamelCase keys, trace and span ids in hex, 64-bit integers as
 * decimal strings, bytes in base64, enums as integers, and NaN/Infinity as
 * strings. Proto3 defaults (0, "", empty lists) are left out.
 */
import type {
  Attributes,
  PipelineRecord,
  ResourceInfo,
  ScopeInfo,
  Value,
} from "../../core/pipeline/record.js";
import { base64 } from "./json-value.js";

type OtlpAnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number | string }
  | { bytesValue: string }
  | { arrayValue: { values: OtlpAnyValue[] } }
  | { kvlistValue: { values: OtlpKeyValue[] } }
  | Record<string, never>;

interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}

interface OtlpLogRecord {
  timeUnixNano?: string;
  observedTimeUnixNano?: string;
  severityNumber?: number;
  severityText?: string;
  body?: OtlpAnyValue;
  attributes?: OtlpKeyValue[];
  droppedAttributesCount?: number;
  flags?: number;
  traceId?: string;
  spanId?: string;
  eventName?: string;
}

function doubleValue(n: number): number | string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Number.POSITIVE_INFINITY) return "Infinity";
  if (n === Number.NEGATIVE_INFINITY) return "-Infinity";
  // JSON.stringify writes -0 as 0; the string form keeps the sign.
  return Object.is(n, -0) ? "-0" : n;
}

export function otlpAnyValue(v: Value): OtlpAnyValue {
  switch (typeof v) {
    case "string":
      return { stringValue: v };
    case "boolean":
      return { boolValue: v };
    case "bigint":
      return { intValue: v.toString() };
    case "number":
      return { doubleValue: doubleValue(v) };
    default:
      break;
  }
  if (v === null) return {};
  if (v instanceof Uint8Array) return { bytesValue: base64(v) };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(otlpAnyValue) } };
  return { kvlistValue: { values: otlpKeyValues(v) } };
}

export function otlpKeyValues(attrs: Attributes): OtlpKeyValue[] {
  const out: OtlpKeyValue[] = [];
  for (const key of Object.keys(attrs)) out.push({ key, value: otlpAnyValue(attrs[key] as Value) });
  return out;
}

function otlpLogRecord(r: PipelineRecord): OtlpLogRecord {
  const o: OtlpLogRecord = {};
  if (r.timeUnixNano !== 0n) o.timeUnixNano = r.timeUnixNano.toString();
  if (r.observedTimeUnixNano !== 0n) o.observedTimeUnixNano = r.observedTimeUnixNano.toString();
  if (r.severityNumber !== 0) o.severityNumber = r.severityNumber;
  if (r.severityText !== "") o.severityText = r.severityText;
  if (r.body !== null) o.body = otlpAnyValue(r.body);
  const attributes = otlpKeyValues(r.attributes);
  if (attributes.length !== 0) o.attributes = attributes;
  if (r.droppedAttributesCount !== 0) o.droppedAttributesCount = r.droppedAttributesCount;
  if (r.flags !== 0) o.flags = r.flags;
  if (r.traceId !== "") o.traceId = r.traceId;
  if (r.spanId !== "") o.spanId = r.spanId;
  if (r.eventName !== "") o.eventName = r.eventName;
  return o;
}

function otlpResource(res: ResourceInfo): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const attributes = otlpKeyValues(res.attributes);
  if (attributes.length !== 0) o.attributes = attributes;
  if (res.droppedAttributesCount !== 0) o.droppedAttributesCount = res.droppedAttributesCount;
  return o;
}

function otlpScope(scope: ScopeInfo): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (scope.name !== "") o.name = scope.name;
  if (scope.version !== "") o.version = scope.version;
  const attributes = otlpKeyValues(scope.attributes);
  if (attributes.length !== 0) o.attributes = attributes;
  if (scope.droppedAttributesCount !== 0) o.droppedAttributesCount = scope.droppedAttributesCount;
  return o;
}

function line(resource: ResourceInfo, scope: ScopeInfo, logRecords: OtlpLogRecord[]): string {
  const scopeLogs: Record<string, unknown> = { scope: otlpScope(scope), logRecords };
  if (scope.schemaUrl !== "") scopeLogs.schemaUrl = scope.schemaUrl;
  const resourceLogs: Record<string, unknown> = { resource: otlpResource(resource), scopeLogs: [scopeLogs] };
  if (resource.schemaUrl !== "") resourceLogs.schemaUrl = resource.schemaUrl;
  return JSON.stringify({ resourceLogs: [resourceLogs] });
}

/**
 * One JSON text per run of consecutive records that share the same resource
 * and scope objects (records decoded from one envelope do), in record
 * order. Lines hold no newline characters; JSON escapes them in strings.
 */
export function toOtlpJsonLines(records: readonly PipelineRecord[]): string[] {
  const lines: string[] = [];
  let run: OtlpLogRecord[] = [];
  let resource: ResourceInfo | undefined;
  let scope: ScopeInfo | undefined;
  for (const r of records) {
    if (r.resource !== resource || r.scope !== scope) {
      if (resource !== undefined && scope !== undefined) lines.push(line(resource, scope, run));
      resource = r.resource;
      scope = r.scope;
      run = [];
    }
    run.push(otlpLogRecord(r));
  }
  if (resource !== undefined && scope !== undefined) lines.push(line(resource, scope, run));
  return lines;
}

/** The lines joined into one JSON Lines text, each line ending with "\n". */
export function toOtlpJsonLinesText(records: readonly PipelineRecord[]): string {
  const lines = toOtlpJsonLines(records);
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}
