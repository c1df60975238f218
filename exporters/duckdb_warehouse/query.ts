/**
 * Read-only SQL over the warehouse, for `sluice sql`. DuckDB lets one
 * process open a file for writing, so the running gateway answers through
 * its exporter's query(); queryWarehouseFile() opens the file itself only
 * when no process holds it.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import {
  type DuckDBConnection,
  DuckDBInstance,
  type DuckDBType,
  DuckDBTypeId,
  type DuckDBValue,
  type DuckDBValueConverter,
  type Json,
  JsonDuckDBValueConverter,
  StatementType,
} from "@duckdb/node-api";
import { ErrorCode, SluiceError } from "../../core/errors.js";
import { SinkCode, SinkError } from "../common/codes.js";
import { type JsonValue, jsonInt } from "../common/json-value.js";

export interface QueryResult {
  columns: string[];
  /** DuckDB type of each column, e.g. "TIMESTAMP_NS" or "MAP(VARCHAR, VARCHAR)". */
  types: string[];
  /**
   * JSON-safe values: integers as numbers (decimal strings past 2^53), maps
   * and structs as objects, lists as arrays, timestamps, dates, decimals
   * and blobs in DuckDB's text form, NULL as null.
   */
  rows: JsonValue[][];
  /** True when the result had more than maxRows rows and was cut there. */
  truncated: boolean;
}

export interface QueryOptions {
  /** Most rows returned; default 10 000. */
  maxRows?: number;
}

export const DEFAULT_MAX_ROWS = 10_000;

/** What a query may be: reads only, so the store's exactly-once contents stay as written. */
const READ_STATEMENTS = new Set<StatementType>([StatementType.SELECT, StatementType.EXPLAIN]);

/** Options every instance opened here and by the exporter uses. */
export const INSTANCE_OPTIONS: Record<string, string> = {
  // Queries arrive over the admin endpoint: they must not read or write
  // other files (read_csv, COPY, ATTACH) or install extensions.
  enable_external_access: "false",
  autoinstall_known_extensions: "false",
  autoload_known_extensions: "false",
};

const INTEGER_TYPES = new Set<DuckDBTypeId>([
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UHUGEINT,
  DuckDBTypeId.BIGNUM,
]);

/**
 * DuckDB's JSON converter with two changes: 64-bit and wider integers are
 * numbers while exact, and maps are objects keyed by the key's text, which
 * is how the attribute maps read best.
 */
const toJson: DuckDBValueConverter<JsonValue> = (value: DuckDBValue, type: DuckDBType, converter) => {
  if (value === null) return null;
  if (INTEGER_TYPES.has(type.typeId) && typeof value === "bigint") return jsonInt(value);
  if (type.typeId === DuckDBTypeId.MAP) {
    const map = value as { entries?: { key: DuckDBValue; value: DuckDBValue }[] };
    const out: Record<string, JsonValue> = {};
    for (const entry of map.entries ?? []) {
      const key = converter(entry.key, type.keyType, converter);
      const k = typeof key === "string" ? key : JSON.stringify(key);
      Object.defineProperty(out, k, {
        value: converter(entry.value, type.valueType, converter),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return JsonDuckDBValueConverter(value, type, converter as DuckDBValueConverter<Json>) as JsonValue;
};

/** Runs one read-only statement on a connection. */
export async function runReadOnlyQuery(
  conn: DuckDBConnection,
  sql: string,
  options: QueryOptions = {},
): Promise<QueryResult> {
  const maxRows = Math.max(1, Math.floor(options.maxRows ?? DEFAULT_MAX_ROWS));
  let prepared: Awaited<ReturnType<DuckDBConnection["prepare"]>>;
  try {
    prepared = await conn.prepare(sql);
  } catch (err) {
    throw new SluiceError(ErrorCode.INVALID_DATA, (err as Error).message, { cause: err });
  }
  try {
    if (!READ_STATEMENTS.has(prepared.statementType)) {
      throw new SluiceError(
        ErrorCode.INVALID_DATA,
        `only read statements (SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN) run here, got ${
          StatementType[prepared.statementType] ?? "another statement"
        }`,
      );
    }
    const reader = await prepared.streamAndReadUntil(maxRows + 1).catch((err: unknown) => {
      throw new SluiceError(ErrorCode.INVALID_DATA, (err as Error).message, { cause: err });
    });
    const rows = reader.convertRows(toJson) as JsonValue[][];
    const truncated = rows.length > maxRows;
    if (rows.length > maxRows) rows.length = maxRows;
    return {
      columns: reader.columnNames(),
      types: reader.columnTypes().map((t) => t.toString()),
      rows,
      truncated,
    };
  } finally {
    prepared.destroySync();
  }
}

/** Exporters that hold a warehouse file open in this process, by absolute path. */
const openInProcess = new Map<string, { query(sql: string, options?: QueryOptions): Promise<QueryResult> }>();

export function registerOpenWarehouse(
  path: string,
  holder: { query(sql: string, options?: QueryOptions): Promise<QueryResult> },
): void {
  const key = resolve(path);
  if (openInProcess.has(key)) {
    throw new SluiceError(
      ErrorCode.INVALID_CONFIG,
      `${path} is already open by another duckdb_warehouse exporter in this process; give each its own path`,
    );
  }
  openInProcess.set(key, holder);
}

export function unregisterOpenWarehouse(path: string): void {
  openInProcess.delete(resolve(path));
}

/**
 * Runs one read-only statement against a warehouse file. When an exporter
 * in this process has the file open, the query goes through it; otherwise
 * the file is opened read-only for this one query.
 *
 * @throws SinkError (SINK_UNAVAILABLE, retryable) when another process holds
 *   the file, SluiceError INVALID_DATA for SQL errors and writes,
 *   INVALID_CONFIG when the file does not exist.
 */
export async function queryWarehouseFile(
  path: string,
  sql: string,
  options: QueryOptions = {},
): Promise<QueryResult> {
  const holder = openInProcess.get(resolve(path));
  if (holder !== undefined) return holder.query(sql, options);
  if (!existsSync(path)) {
    throw new SluiceError(
      ErrorCode.INVALID_CONFIG,
      `no warehouse at ${path}: nothing has been written there yet, or the path is wrong`,
    );
  }
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(path, { ...INSTANCE_OPTIONS, access_mode: "READ_ONLY" });
  } catch (err) {
    const message = (err as Error).message;
    if (/lock/i.test(message)) {
      const pid = /PID (\d+)/.exec(message)?.[1];
      throw new SinkError(
        SinkCode.SINK_UNAVAILABLE,
        `the warehouse ${path} is in use by another process${pid === undefined ? "" : ` (pid ${pid})`}; ` +
          "DuckDB lets only that process read it, so run the query through it (sluice sql asks its admin endpoint)",
        { retryable: true, cause: err },
      );
    }
    throw new SluiceError(ErrorCode.INTERNAL, `cannot open warehouse ${path}: ${message}`, { cause: err });
  }
  try {
    const conn = await instance.connect();
    try {
      return await runReadOnlyQuery(conn, sql, options);
    } finally {
      conn.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}
