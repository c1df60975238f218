/**
 * The schema the exporter creates: the OpenTelemetry Collector's `otel_logs`
 * layout (exporters/common/otel-logs-columns.ts) plus EventId, on a
 * ReplacingMergeTree whose sorting key ends in EventId.
 *
 * Two mechanisms make writes exactly once:
 * - every insert carries an insert_deduplication_token derived from the
 *   batch's offsets, and non_replicated_deduplication_window makes a plain
 *   (non-replicated) table remember the last 1000 of them, so an exact
 *   replay of a batch is dropped by the server on arrival;
 * - a replay that is a superset of the batch has other offsets, hence a new
 *   token, and stores the overlapping rows again. Those copies carry the
 *   same record, so the same (ServiceName, TimestampTime, Timestamp,
 *   EventId) sorting key, and ReplacingMergeTree keeps one of them when parts
 *   merge; `SELECT ... FINAL` shows one copy before that.
 */
import { OTEL_LOGS_COLUMNS, type OtelLogsColumn } from "../common/otel-logs-columns.js";

export function quoteIdentifier(name: string): string {
  return `\`${name}\``;
}

export function qualifiedTable(database: string, table: string): string {
  return `${quoteIdentifier(database)}.${quoteIdentifier(table)}`;
}

/** Storage details per column; the names and types come from the shared layout. */
function columnSpec(c: OtelLogsColumn): string {
  const name = quoteIdentifier(c.name);
  switch (c.name) {
    case "Timestamp":
      return `${name} ${c.clickhouseType} CODEC(Delta(8), ZSTD(1))`;
    case "TimestampTime":
      return `${name} ${c.clickhouseType} DEFAULT toDateTime(Timestamp)`;
    case "TraceFlags":
    case "SeverityNumber":
      return `${name} ${c.clickhouseType}`;
    default:
      return `${name} ${c.clickhouseType} CODEC(ZSTD(1))`;
  }
}

const SKIP_INDEXES = [
  "INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1",
  "INDEX idx_event_id EventId TYPE bloom_filter(0.001) GRANULARITY 1",
  "INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1",
  "INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1",
  "INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1",
  "INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1",
  "INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1",
  "INDEX idx_log_attr_value mapValues(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1",
  "INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8",
];

/** Deduplication tokens remembered per table: far more than batches a consumer replays after a failure. */
export const DEDUPLICATION_WINDOW = 1000;

export function createDatabaseSql(database: string): string {
  return `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)}`;
}

export interface TableOptions {
  database: string;
  table: string;
  /** Milliseconds; undefined or 0 for no TTL. */
  ttlMs?: number | undefined;
}

export function createTableSql(o: TableOptions): string {
  const body = [...OTEL_LOGS_COLUMNS.map(columnSpec), ...SKIP_INDEXES].map((l) => `  ${l}`).join(",\n");
  const ttlSeconds = o.ttlMs ? Math.max(1, Math.round(o.ttlMs / 1000)) : 0;
  return [
    `CREATE TABLE IF NOT EXISTS ${qualifiedTable(o.database, o.table)} (`,
    body,
    ")",
    "ENGINE = ReplacingMergeTree",
    "PARTITION BY toDate(TimestampTime)",
    "PRIMARY KEY (ServiceName, TimestampTime)",
    "ORDER BY (ServiceName, TimestampTime, Timestamp, EventId)",
    ...(ttlSeconds > 0 ? [`TTL TimestampTime + toIntervalSecond(${ttlSeconds})`] : []),
    `SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = ${DEDUPLICATION_WINDOW}`,
  ].join("\n");
}

/**
 * The token of a batch: the same for every replay of the same offsets into
 * the same table, and different for any other batch. Topic names may hold
 * "-", so the topic's "-" and "%" are percent-encoded to keep "a-1" partition
 * 2 apart from "a" partition 1.
 */
export function batchDeduplicationToken(
  b: { topic: string; partition: number; firstOffset: bigint; lastOffset: bigint },
  database: string,
  table: string,
): string {
  const topic = b.topic.replace(/[%-]/g, (c) => (c === "%" ? "%25" : "%2D"));
  return `${topic}-${b.partition}-${b.firstOffset}-${b.lastOffset}-${database}.${table}`;
}
