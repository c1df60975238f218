/**
 * The columns of the OpenTelemetry Collector's ClickHouse `otel_logs` table,
 * plus EventId, and the row a record becomes. Warehouse sinks share the
 * column names so queries and dashboards written for the Collector's table
 * work on ours, whichever warehouse holds it.
 */
import { type PipelineRecord, serviceName } from "../../core/pipeline/record.js";
import { flattenAttributes } from "./flatten.js";
import { valueText } from "./json-value.js";
import { clampInt64, dateTime64Nanos, dateTimeSeconds, recordTimeUnixNano } from "./time.js";

export interface OtelLogsRow {
  /** 'YYYY-MM-DD hh:mm:ss.nnnnnnnnn' UTC: the record time, else observed, else receive time. */
  Timestamp: string;
  /** Timestamp truncated to the second: 'YYYY-MM-DD hh:mm:ss' UTC. */
  TimestampTime: string;
  TraceId: string;
  SpanId: string;
  /** The W3C trace flags: the low byte of the record's flags. */
  TraceFlags: number;
  SeverityText: string;
  SeverityNumber: number;
  ServiceName: string;
  /** String bodies as they are, others as JSON text (valueText), no body as "". */
  Body: string;
  ResourceSchemaUrl: string;
  ResourceAttributes: Record<string, string>;
  ScopeSchemaUrl: string;
  ScopeName: string;
  ScopeVersion: string;
  ScopeAttributes: Record<string, string>;
  LogAttributes: Record<string, string>;
  EventName: string;
  /** The record's eventId: the key replays are deduplicated on. */
  EventId: string;
}

export interface OtelLogsColumn {
  name: keyof OtelLogsRow;
  /** The column's type in the Collector's ClickHouse table (String for EventId, which it lacks). */
  clickhouseType: string;
}

/** In the Collector's column order, EventId last. */
export const OTEL_LOGS_COLUMNS: readonly OtelLogsColumn[] = [
  { name: "Timestamp", clickhouseType: "DateTime64(9)" },
  { name: "TimestampTime", clickhouseType: "DateTime" },
  { name: "TraceId", clickhouseType: "String" },
  { name: "SpanId", clickhouseType: "String" },
  { name: "TraceFlags", clickhouseType: "UInt8" },
  { name: "SeverityText", clickhouseType: "LowCardinality(String)" },
  { name: "SeverityNumber", clickhouseType: "UInt8" },
  { name: "ServiceName", clickhouseType: "LowCardinality(String)" },
  { name: "Body", clickhouseType: "String" },
  { name: "ResourceSchemaUrl", clickhouseType: "LowCardinality(String)" },
  { name: "ResourceAttributes", clickhouseType: "Map(LowCardinality(String), String)" },
  { name: "ScopeSchemaUrl", clickhouseType: "LowCardinality(String)" },
  { name: "ScopeName", clickhouseType: "String" },
  { name: "ScopeVersion", clickhouseType: "LowCardinality(String)" },
  { name: "ScopeAttributes", clickhouseType: "Map(LowCardinality(String), String)" },
  { name: "LogAttributes", clickhouseType: "Map(LowCardinality(String), String)" },
  { name: "EventName", clickhouseType: "String" },
  { name: "EventId", clickhouseType: "String" },
];

/** The int64 nanoseconds Timestamp holds, for sinks that take the number rather than the text. */
export function otelLogsTimestampNanos(r: PipelineRecord): bigint {
  return clampInt64(recordTimeUnixNano(r));
}

export function toOtelLogsRow(
  r: PipelineRecord,
  resourceAttributes: Record<string, string> = flattenAttributes(r.resource.attributes),
  scopeAttributes: Record<string, string> = flattenAttributes(r.scope.attributes),
): OtelLogsRow {
  const ns = otelLogsTimestampNanos(r);
  return {
    Timestamp: dateTime64Nanos(ns),
    TimestampTime: dateTimeSeconds(ns),
    TraceId: r.traceId,
    SpanId: r.spanId,
    TraceFlags: r.flags & 0xff,
    SeverityText: r.severityText,
    // UInt8 in the table; OTLP defines 0..24, anything past 255 is nonsense anyway.
    SeverityNumber: Math.min(Math.max(Math.trunc(r.severityNumber), 0), 255),
    ServiceName: serviceName(r),
    Body: valueText(r.body),
    ResourceSchemaUrl: r.resource.schemaUrl,
    ResourceAttributes: resourceAttributes,
    ScopeSchemaUrl: r.scope.schemaUrl,
    ScopeName: r.scope.name,
    ScopeVersion: r.scope.version,
    ScopeAttributes: scopeAttributes,
    LogAttributes: flattenAttributes(r.attributes),
    EventName: r.eventName,
    EventId: r.eventId,
  };
}

/**
 * Rows for a batch. Records of one envelope share their resource and scope
 * objects, so each of those is flattened once per call; rows then share
 * those map objects, which callers must treat as read-only.
 */
export function toOtelLogsRows(records: readonly PipelineRecord[]): OtelLogsRow[] {
  const resources = new Map<object, Record<string, string>>();
  const scopes = new Map<object, Record<string, string>>();
  const rows: OtelLogsRow[] = [];
  for (const r of records) {
    let res = resources.get(r.resource);
    if (res === undefined) {
      res = flattenAttributes(r.resource.attributes);
      resources.set(r.resource, res);
    }
    let scope = scopes.get(r.scope);
    if (scope === undefined) {
      scope = flattenAttributes(r.scope.attributes);
      scopes.set(r.scope, scope);
    }
    rows.push(toOtelLogsRow(r, res, scope));
  }
  return rows;
}
