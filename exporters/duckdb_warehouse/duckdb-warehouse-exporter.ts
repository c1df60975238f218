/**
 * The embedded warehouse: one DuckDB file with the Collector's `otel_logs`
 * table keyed by EventId. A batch is one transaction. New batches are
 * appended straight into the table; when the primary key refuses that (a
 * replay: some ids are stored already), the batch goes through a TEMP stage
 * table and one INSERT OR IGNORE, so a replayed batch (same records, or
 * more) leaves one row per record. The commit makes the batch durable
 * (DuckDB syncs its WAL).
 */
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  type DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  type DuckDBMapValue,
  type DuckDBValue,
  mapValue,
  timestampNanosValue,
  timestampValue,
} from "@duckdb/node-api";
import { ErrorCode, SluiceError } from "../../core/errors.js";
import type {
  ComponentDeps,
  ExportBatch,
  Exporter,
  ExporterFactory,
  ExportResult,
} from "../../core/pipeline/component.js";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { sinkShuttingDown, sinkUnavailable } from "../common/codes.js";
import { otelLogsTimestampNanos, toOtelLogsRows } from "../common/otel-logs-columns.js";
import { type DuckdbWarehouseConfig, defaultWarehousePath, duckdbWarehouseConfigSchema } from "./config.js";
import {
  INSTANCE_OPTIONS,
  type QueryOptions,
  type QueryResult,
  registerOpenWarehouse,
  runReadOnlyQuery,
  unregisterOpenWarehouse,
} from "./query.js";
import {
  CLEAR_STAGE,
  COLUMNS,
  CREATE_STAGE,
  CREATE_TABLE,
  INSERT_FROM_STAGE,
  STAGE_TABLE,
  TABLE,
} from "./schema.js";

export { type DuckdbWarehouseConfig, defaultWarehousePath, duckdbWarehouseConfigSchema } from "./config.js";

/** DuckDB's vector size: the most rows one data chunk holds. */
const CHUNK_ROWS = 2048;
const NS_PER_S = 1_000_000_000n;
const US_PER_S = 1_000_000n;

function stringMap(m: Record<string, string>, cache: Map<object, DuckDBMapValue>): DuckDBMapValue {
  let v = cache.get(m);
  if (v === undefined) {
    v = mapValue(Object.keys(m).map((key) => ({ key, value: m[key] as string })));
    cache.set(m, v);
  }
  return v;
}

/** The records with each event id once, first occurrence kept. */
function uniqueById(records: readonly PipelineRecord[]): readonly PipelineRecord[] {
  const seen = new Set<string>();
  const out: PipelineRecord[] = [];
  for (const r of records) {
    if (seen.has(r.eventId)) continue;
    seen.add(r.eventId);
    out.push(r);
  }
  return out.length === records.length ? records : out;
}

/** The batch as column arrays in table order, one chunk's worth per entry. */
function chunksFor(records: readonly PipelineRecord[]): DuckDBDataChunk[] {
  const rows = toOtelLogsRows(records);
  const maps = new Map<object, DuckDBMapValue>();
  const chunks: DuckDBDataChunk[] = [];
  for (let start = 0; start < rows.length; start += CHUNK_ROWS) {
    const end = Math.min(start + CHUNK_ROWS, rows.length);
    const columns: DuckDBValue[][] = COLUMNS.map(() => new Array<DuckDBValue>(end - start));
    for (let i = start; i < end; i++) {
      const row = rows[i];
      const record = records[i];
      if (row === undefined || record === undefined) continue;
      const j = i - start;
      const ns = otelLogsTimestampNanos(record);
      let c = 0;
      for (const col of COLUMNS) {
        const target = columns[c++] as DuckDBValue[];
        switch (col.name) {
          case "Timestamp":
            target[j] = timestampNanosValue(ns);
            break;
          case "TimestampTime":
            target[j] = timestampValue((ns / NS_PER_S) * US_PER_S);
            break;
          case "ResourceAttributes":
          case "ScopeAttributes":
          case "LogAttributes":
            target[j] = stringMap(row[col.name], maps);
            break;
          default:
            target[j] = row[col.name];
        }
      }
    }
    const chunk = DuckDBDataChunk.create(
      COLUMNS.map((col) => col.type),
      end - start,
    );
    columns.forEach((values, i) => {
      chunk.setColumnValues(i, values);
    });
    chunks.push(chunk);
  }
  return chunks;
}

export class DuckdbWarehouseExporter implements Exporter {
  readonly name: string;
  readonly path: string;
  private readonly deps: ComponentDeps;
  private instance: DuckDBInstance | undefined;
  private writer: DuckDBConnection | undefined;
  private reader: DuckDBConnection | undefined;
  /** Writes share one connection and its transaction, so they run one at a time. */
  private tail: Promise<unknown> = Promise.resolve();
  private closing = false;
  private registered = false;

  constructor(name: string, config: DuckdbWarehouseConfig, deps: ComponentDeps) {
    this.name = name;
    this.path = config.path ?? defaultWarehousePath(deps.dataDir);
    this.deps = deps;
  }

  async start(): Promise<void> {
    if (this.closing) throw sinkShuttingDown(this.name);
    if (this.instance !== undefined) return;
    registerOpenWarehouse(this.path, this);
    this.registered = true;
    let instance: DuckDBInstance | undefined;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      instance = await DuckDBInstance.create(this.path, INSTANCE_OPTIONS);
      const writer = await instance.connect();
      await writer.run(CREATE_TABLE);
      await this.checkColumns(writer);
      await writer.run(CREATE_STAGE);
      this.reader = await instance.connect();
      this.writer = writer;
      this.instance = instance;
    } catch (err) {
      this.reader?.closeSync();
      this.writer?.closeSync();
      this.reader = undefined;
      this.writer = undefined;
      instance?.closeSync();
      unregisterOpenWarehouse(this.path);
      this.registered = false;
      if (err instanceof SluiceError) throw err;
      const message = (err as Error).message;
      if (/lock/i.test(message)) {
        throw new SluiceError(
          ErrorCode.INVALID_CONFIG,
          `${this.name}: ${this.path} is open in another process; DuckDB allows one writer per file`,
          { cause: err },
        );
      }
      throw sinkUnavailable(`${this.name}: cannot open ${this.path}`, err);
    }
  }

  /** A table someone else created under our name would make every append fail obscurely. */
  private async checkColumns(conn: DuckDBConnection): Promise<void> {
    const reader = await conn.runAndReadAll(
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 AND table_schema = 'main' ORDER BY ordinal_position",
      [TABLE],
    );
    const found = reader.getRowsJson().map((r) => `${String(r[0])} ${String(r[1])}`);
    const expected = COLUMNS.map((c) => `${c.name} ${c.sqlType}`);
    if (found.join(",") !== expected.join(",")) {
      throw new SluiceError(
        ErrorCode.INVALID_CONFIG,
        `${this.path}: table ${TABLE} has columns (${found.join(", ")}), expected (${expected.join(", ")})`,
      );
    }
  }

  write(batch: ExportBatch): Promise<ExportResult> {
    if (this.closing) return Promise.reject(sinkShuttingDown(this.name));
    const run = this.tail.then(() => this.writeNow(batch));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async writeNow(batch: ExportBatch): Promise<ExportResult> {
    const conn = this.writer;
    if (conn === undefined) {
      if (this.closing) throw sinkShuttingDown(this.name);
      throw new SluiceError(ErrorCode.INTERNAL, `${this.name}: write() before start()`);
    }
    if (batch.records.length === 0) return { failed: [] };
    // Ids repeat inside a batch when producers reuse log.record.uid; one
    // statement must not carry a key twice.
    const chunks = chunksFor(uniqueById(batch.records));
    try {
      // Most batches are new: appending straight into the table is the
      // fast path, and the primary key refuses it whole if any id exists.
      await this.appendAndCommit(conn, TABLE, null, chunks, []);
      return { failed: [] };
    } catch (err) {
      this.deps.logger.debug(
        { err, exporter: this.name, firstOffset: String(batch.firstOffset) },
        "direct append refused; writing through the stage (a replay, or the warehouse is failing)",
      );
    }
    try {
      await this.appendAndCommit(conn, STAGE_TABLE, "temp", chunks, [INSERT_FROM_STAGE, CLEAR_STAGE]);
      return { failed: [] };
    } catch (err) {
      throw sinkUnavailable(this.name, err);
    }
  }

  /**
   * One transaction: append the chunks to `table` (in the TEMP catalog, or
   * the database's own when null), run `then`, commit. Rolls back on any
   * failure, which also empties the stage again.
   */
  private async appendAndCommit(
    conn: DuckDBConnection,
    table: string,
    catalog: "temp" | null,
    chunks: readonly DuckDBDataChunk[],
    then: readonly string[],
  ): Promise<void> {
    let open = false;
    try {
      await conn.run("BEGIN TRANSACTION");
      open = true;
      const appender = await conn.createAppender(table, "main", catalog);
      try {
        for (const chunk of chunks) appender.appendDataChunk(chunk);
        appender.flushSync();
      } catch (err) {
        // Closing a failed appender throws again; the first error is the one to report.
        try {
          appender.closeSync();
        } catch {}
        throw err;
      }
      appender.closeSync();
      for (const sql of then) await conn.run(sql);
      await conn.run("COMMIT");
      open = false;
    } catch (err) {
      if (open) {
        await conn.run("ROLLBACK").catch((rollbackErr: unknown) => {
          this.deps.logger.warn({ err: rollbackErr, exporter: this.name }, "warehouse rollback failed");
        });
      }
      throw err;
    }
  }

  /**
   * Runs one read-only statement (SELECT, WITH, FROM, DESCRIBE, SHOW,
   * SUMMARIZE, EXPLAIN) on a connection of its own, so it sees committed
   * batches and never waits for or joins the writer's transaction.
   */
  async query(sql: string, options: QueryOptions = {}): Promise<QueryResult> {
    const reader = this.reader;
    if (reader === undefined) {
      throw new SluiceError(ErrorCode.SHUTTING_DOWN, `${this.name} is not running`, { retryable: true });
    }
    return runReadOnlyQuery(reader, sql, options);
  }

  async shutdown(): Promise<void> {
    this.closing = true;
    await this.tail;
    this.reader?.closeSync();
    this.writer?.closeSync();
    this.reader = undefined;
    this.writer = undefined;
    const instance = this.instance;
    this.instance = undefined;
    // Closing the last handle checkpoints the WAL into the file.
    instance?.closeSync();
    if (this.registered) unregisterOpenWarehouse(this.path);
    this.registered = false;
  }
}

export const duckdbWarehouseExporterFactory: ExporterFactory<typeof duckdbWarehouseConfigSchema> = {
  type: "duckdb_warehouse",
  configSchema: duckdbWarehouseConfigSchema,
  create: (name, config, deps) => new DuckdbWarehouseExporter(name, config, deps),
};
