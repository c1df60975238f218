/**
 * The embedded search store: SQLite with an FTS5 index, one row per event
 * id. A batch is one transaction of INSERT OR IGNORE, so a replayed batch
 * (same records, or more) leaves one row per record; the batch is durable
 * once the transaction commits (WAL, synchronous=FULL).
 */
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import { z } from "zod";
import { ErrorCode, SluiceError } from "../../core/errors.js";
import type {
  ComponentDeps,
  ExportBatch,
  Exporter,
  ExporterFactory,
  ExportResult,
  RecordFailure,
} from "../../core/pipeline/component.js";
import { type PipelineRecord, serviceName } from "../../core/pipeline/record.js";
import { SinkCode, sinkShuttingDown, sinkUnavailable } from "../common/codes.js";
import { durationMs } from "../common/config.js";
import { attributesToJson, type SearchDocument, toSearchDocument, valueText } from "../common/json-value.js";
import { clampInt64, recordTimeUnixNano } from "../common/time.js";
import { bodyIndexText, indexText } from "./fts-text.js";
import { SCHEMA, SCHEMA_VERSION } from "./schema.js";

export const sqliteSearchConfigSchema = z.strictObject({
  /** SQLite file; default <data_dir>/search/search.db. */
  path: z.string().min(1).optional(),
  /** Rows whose record time is older than this are deleted; null keeps everything. */
  max_age: durationMs("max_age").nullable().prefault("7d"),
  /** How often the retention sweep runs. */
  retention_check_interval: durationMs("retention_check_interval").prefault("1m"),
});

export type SqliteSearchConfig = z.output<typeof sqliteSearchConfigSchema>;

const BUSY_TIMEOUT_MS = 5000;
// Each retention chunk holds the write lock briefly and yields between
// chunks, so batches keep committing while a large backlog is deleted.
const RETENTION_CHUNK_ROWS = 2000;

type InsertRow = [
  eventId: string,
  timeUnixNano: bigint,
  service: string,
  severityNumber: number,
  severityText: string,
  eventName: string,
  kind: string,
  traceId: string,
  spanId: string,
  body: string,
  attributes: string,
  resource: string,
  scope: string,
];

/** What the index gets for a row: body, attribute values, service, event name. */
type IndexRow = [body: string, attributes: string, service: string, eventName: string];

interface PreparedRow {
  row: InsertRow;
  index: IndexRow;
}

export function defaultSearchPath(dataDir: string): string {
  return join(dataDir, "search", "search.db");
}

/** Every row's text columns, computed outside the transaction so it stays short. */
function rowsFor(records: readonly PipelineRecord[]): PreparedRow[] {
  const resources = new Map<object, string>();
  const scopes = new Map<object, string>();
  const rows: PreparedRow[] = [];
  for (const r of records) {
    let resource = resources.get(r.resource);
    let scope = scopes.get(r.scope);
    let doc: SearchDocument | undefined;
    if (resource === undefined || scope === undefined) doc = toSearchDocument(r);
    if (resource === undefined) {
      resource = JSON.stringify(doc?.resource);
      resources.set(r.resource, resource);
    }
    if (scope === undefined) {
      scope = JSON.stringify(doc?.scope);
      scopes.set(r.scope, scope);
    }
    const service = serviceName(r);
    const body = valueText(r.body);
    const attributes = attributesToJson(r.attributes);
    rows.push({
      row: [
        r.eventId,
        clampInt64(recordTimeUnixNano(r)),
        service,
        r.severityNumber,
        r.severityText,
        r.eventName,
        r.kind,
        r.traceId,
        r.spanId,
        body,
        JSON.stringify(attributes),
        resource,
        scope,
      ],
      index: [
        typeof r.body === "string" ? body : bodyIndexText(r.body),
        indexText(attributes),
        service,
        r.eventName,
      ],
    });
  }
  return rows;
}

function isRecordError(err: unknown): boolean {
  // TOOBIG is about one row's size; RangeError is a value better-sqlite3 cannot bind.
  return err instanceof RangeError || (err as { code?: unknown } | null)?.code === "SQLITE_TOOBIG";
}

export class SqliteSearchExporter implements Exporter {
  readonly name: string;
  readonly path: string;
  private readonly maxAgeMs: number | null;
  private readonly checkIntervalMs: number;
  private readonly deps: ComponentDeps;
  private db: Database.Database | undefined;
  private insertBatch:
    | Database.Transaction<(rows: PreparedRow[], records: readonly PipelineRecord[]) => RecordFailure[]>
    | undefined;
  private deleteChunk: ((cutoff: bigint) => number) | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;
  private retentionRunning: Promise<number> | undefined;
  private closing = false;

  constructor(name: string, config: SqliteSearchConfig, deps: ComponentDeps) {
    this.name = name;
    this.path = config.path ?? defaultSearchPath(deps.dataDir);
    this.maxAgeMs = config.max_age;
    this.checkIntervalMs = config.retention_check_interval;
    this.deps = deps;
  }

  async start(): Promise<void> {
    if (this.closing) throw sinkShuttingDown(this.name);
    if (this.db !== undefined) return;
    let db: Database.Database | undefined;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      db = new Database(this.path, { timeout: BUSY_TIMEOUT_MS });
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      const mode = db.pragma("journal_mode = WAL", { simple: true });
      if (String(mode).toLowerCase() !== "wal") {
        throw new Error(`could not enable WAL journal mode (got ${String(mode)})`);
      }
      // FULL fsyncs the WAL at every commit: a batch reported written survives power loss.
      db.pragma("synchronous = FULL");
      db.pragma("journal_size_limit = 67108864");
      const conn = db;
      conn
        .transaction(() => {
          const version = Number(conn.pragma("user_version", { simple: true }));
          if (version > SCHEMA_VERSION) {
            throw new SluiceError(
              ErrorCode.INVALID_CONFIG,
              `${this.path} has search schema version ${version}, newer than this build (${SCHEMA_VERSION})`,
            );
          }
          conn.exec(SCHEMA);
          if (version < SCHEMA_VERSION) conn.pragma(`user_version = ${SCHEMA_VERSION}`);
        })
        .immediate();
      this.prepare(conn);
      this.db = conn;
    } catch (err) {
      db?.close();
      if (err instanceof SluiceError) throw err;
      throw sinkUnavailable(`${this.name}: cannot open ${this.path}`, err);
    }
    if (this.maxAgeMs !== null) {
      this.retentionTimer = setInterval(() => void this.runRetention(), this.checkIntervalMs);
      this.retentionTimer.unref();
    }
  }

  private prepare(db: Database.Database): void {
    const insert = db.prepare<InsertRow>(
      `INSERT OR IGNORE INTO records (event_id, time_unix_nano, service, severity_number, severity_text,
         event_name, kind, trace_id, span_id, body, attributes, resource, scope)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const index = db.prepare<[number | bigint, ...IndexRow]>(
      "INSERT INTO records_fts (rowid, body, attributes, service, event_name) VALUES (?, ?, ?, ?, ?)",
    );
    const remove = db.prepare<[number | bigint]>("DELETE FROM records WHERE seq = ?");
    this.insertBatch = db.transaction((rows: PreparedRow[], records: readonly PipelineRecord[]) => {
      const failed: RecordFailure[] = [];
      for (let i = 0; i < rows.length; i++) {
        const prepared = rows[i] as PreparedRow;
        let inserted: number | bigint | undefined;
        try {
          const info = insert.run(...prepared.row);
          // changes is 0 when the event id is already stored: nothing new to index.
          if (info.changes === 1) {
            inserted = info.lastInsertRowid;
            index.run(inserted, ...prepared.index);
          }
        } catch (err) {
          // A failed statement rolls back alone and the batch goes on; a row
          // whose index entry failed goes too, so no row is unsearchable.
          if (!isRecordError(err)) throw err;
          if (inserted !== undefined) remove.run(inserted);
          failed.push({
            record: records[i] as PipelineRecord,
            code: SinkCode.SINK_REJECTED,
            reason: err instanceof Error ? err.message : String(err),
          });
        }
      }
      return failed;
    });
    const del = db.prepare<[bigint, number]>(
      "DELETE FROM records WHERE seq IN (SELECT seq FROM records WHERE time_unix_nano < ? LIMIT ?)",
    );
    this.deleteChunk = (cutoff) => del.run(cutoff, RETENTION_CHUNK_ROWS).changes;
  }

  async write(batch: ExportBatch): Promise<ExportResult> {
    if (this.closing) throw sinkShuttingDown(this.name);
    const insertBatch = this.insertBatch;
    if (insertBatch === undefined) {
      throw new SluiceError(ErrorCode.INTERNAL, `${this.name}: write() before start()`);
    }
    if (batch.records.length === 0) return { failed: [] };
    const rows = rowsFor(batch.records);
    try {
      // better-sqlite3 runs the whole transaction synchronously, so two
      // batches written at once never interleave inside one transaction.
      return { failed: insertBatch.immediate(rows, batch.records) };
    } catch (err) {
      throw sinkUnavailable(this.name, err);
    }
  }

  /**
   * Deletes rows whose record time is older than max_age, a chunk per
   * transaction. Returns the rows deleted. Runs on a timer; exposed for tests
   * and for operators who want to run it now.
   */
  runRetention(nowMs: number = Date.now()): Promise<number> {
    if (this.maxAgeMs === null || this.deleteChunk === undefined) return Promise.resolve(0);
    if (this.retentionRunning !== undefined) return this.retentionRunning;
    const cutoff = clampInt64(BigInt(Math.max(0, Math.floor(nowMs - this.maxAgeMs))) * 1_000_000n);
    const deleteChunk = this.deleteChunk;
    const run = async () => {
      let total = 0;
      try {
        for (;;) {
          if (this.closing) break;
          const n = deleteChunk(cutoff);
          total += n;
          if (n < RETENTION_CHUNK_ROWS) break;
          await new Promise((resolve) => setImmediate(resolve));
        }
      } catch (err) {
        // Busy or failing disk: the next sweep tries again; writes report their own errors.
        this.deps.logger.warn({ err, exporter: this.name }, "search retention failed");
      }
      return total;
    };
    const running = run().finally(() => {
      this.retentionRunning = undefined;
    });
    this.retentionRunning = running;
    return running;
  }

  async shutdown(): Promise<void> {
    this.closing = true;
    if (this.retentionTimer !== undefined) clearInterval(this.retentionTimer);
    this.retentionTimer = undefined;
    await this.retentionRunning;
    this.insertBatch = undefined;
    this.deleteChunk = undefined;
    const db = this.db;
    this.db = undefined;
    db?.close();
  }
}

export const sqliteSearchExporterFactory: ExporterFactory<typeof sqliteSearchConfigSchema> = {
  type: "sqlite_search",
  configSchema: sqliteSearchConfigSchema,
  create: (name, config, deps) => new SqliteSearchExporter(name, config, deps),
};
