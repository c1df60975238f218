/**
 * The warehouse table: the Collector's ClickHouse `otel_logs` columns with
 * their DuckDB counterparts, plus EventId as the primary key replays are
 * deduplicated on. README.md explains the type choices.
 */
import { type DuckDBType, MAP, TIMESTAMP, TIMESTAMP_NS, UTINYINT, VARCHAR } from "@duckdb/node-api";
import type { OtelLogsRow } from "../common/otel-logs-columns.js";

export const TABLE = "otel_logs";
/** Per-connection TEMP table the appender fills before the deduplicating insert. */
export const STAGE_TABLE = "otel_logs_stage";

export const STRING_MAP = MAP(VARCHAR, VARCHAR);

export interface WarehouseColumn {
  name: keyof OtelLogsRow;
  sqlType: string;
  type: DuckDBType;
}

/** Column order is the table's; the appender writes in this order. */
export const COLUMNS: readonly WarehouseColumn[] = [
  { name: "Timestamp", sqlType: "TIMESTAMP_NS", type: TIMESTAMP_NS },
  { name: "TimestampTime", sqlType: "TIMESTAMP", type: TIMESTAMP },
  { name: "TraceId", sqlType: "VARCHAR", type: VARCHAR },
  { name: "SpanId", sqlType: "VARCHAR", type: VARCHAR },
  { name: "TraceFlags", sqlType: "UTINYINT", type: UTINYINT },
  { name: "SeverityText", sqlType: "VARCHAR", type: VARCHAR },
  { name: "SeverityNumber", sqlType: "UTINYINT", type: UTINYINT },
  { name: "ServiceName", sqlType: "VARCHAR", type: VARCHAR },
  { name: "Body", sqlType: "VARCHAR", type: VARCHAR },
  { name: "ResourceSchemaUrl", sqlType: "VARCHAR", type: VARCHAR },
  { name: "ResourceAttributes", sqlType: "MAP(VARCHAR, VARCHAR)", type: STRING_MAP },
  { name: "ScopeSchemaUrl", sqlType: "VARCHAR", type: VARCHAR },
  { name: "ScopeName", sqlType: "VARCHAR", type: VARCHAR },
  { name: "ScopeVersion", sqlType: "VARCHAR", type: VARCHAR },
  { name: "ScopeAttributes", sqlType: "MAP(VARCHAR, VARCHAR)", type: STRING_MAP },
  { name: "LogAttributes", sqlType: "MAP(VARCHAR, VARCHAR)", type: STRING_MAP },
  { name: "EventName", sqlType: "VARCHAR", type: VARCHAR },
  { name: "EventId", sqlType: "VARCHAR", type: VARCHAR },
];

export const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS ${TABLE} (
${COLUMNS.map((c) => `  ${c.name} ${c.sqlType} ${c.name === "EventId" ? "PRIMARY KEY" : "NOT NULL"}`).join(",\n")}
)`;

// CREATE TABLE AS copies the columns without the key or NOT NULLs.
export const CREATE_STAGE = `CREATE TEMP TABLE IF NOT EXISTS ${STAGE_TABLE} AS SELECT * FROM ${TABLE} LIMIT 0`;

/** The stage holds each id once (the writer deduplicates), so this only skips ids already stored. */
export const INSERT_FROM_STAGE = `INSERT OR IGNORE INTO ${TABLE} SELECT * FROM ${STAGE_TABLE}`;

export const CLEAR_STAGE = `DELETE FROM ${STAGE_TABLE}`;
