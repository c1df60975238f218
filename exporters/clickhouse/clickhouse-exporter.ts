/**
 * The ClickHouse exporter: one row per record in the `otel_logs` layout,
 * inserted as JSONEachRow over HTTP with a deduplication token per batch and
 * wait_end_of_query=1, so the answer comes only after the insert finished
 * and its parts are committed to the table (see ddl.ts for how replays stay
 * single). Rows the server refuses are isolated and dead-lettered one by one.
 */
import {
  type ClickHouseClient,
  ClickHouseLogLevel,
  type ClickHouseSettings,
  createClient,
} from "@clickhouse/client";
import { ErrorCode, SluiceError } from "../../core/errors.js";
import type { Logger } from "../../core/logging/logger.js";
import type { ComponentDeps, ExportBatch, Exporter, ExportResult } from "../../core/pipeline/component.js";
import { sinkShuttingDown, sinkUnavailable } from "../common/codes.js";
import { OTEL_LOGS_COLUMNS, type OtelLogsRow, toOtelLogsRows } from "../common/otel-logs-columns.js";
import type { ClickHouseConfig } from "./config.js";
import { batchDeduplicationToken, createDatabaseSql, createTableSql, qualifiedTable } from "./ddl.js";
import { classifyClickHouseError } from "./errors.js";
import { BatchInsertError, insertIsolatingBadRows } from "./isolate.js";

/** The calls the exporter makes; a test can stand in for the server with these alone. */
export type ClickHouseCalls = Pick<ClickHouseClient, "command" | "query" | "insert" | "close">;

export interface ClickHouseExporterOptions {
  client?: (config: ClickHouseConfig) => ClickHouseCalls;
}

const UTC_NAMES = new Set(["UTC", "Etc/UTC", "GMT", "Etc/GMT", "UCT", "Etc/UCT", "Zulu", "Etc/Zulu"]);

export function createClickHouseClient(config: ClickHouseConfig): ClickHouseClient {
  return createClient({
    url: config.endpoint,
    username: config.username,
    password: config.password,
    request_timeout: config.timeout,
    application: "sluice",
    // Failures reach our own logger with the batch's context; the client's would repeat them bare.
    log: { level: ClickHouseLogLevel.OFF },
  });
}

export class ClickHouseExporter implements Exporter {
  private client: ClickHouseCalls | undefined;
  private readonly logger: Logger;
  private readonly table: string;
  /** Set when the server's zone is not UTC, so the UTC text times in rows are read as UTC. */
  private sessionTimezone: string | undefined;
  private stopping = false;

  constructor(
    readonly name: string,
    private readonly config: ClickHouseConfig,
    deps: ComponentDeps,
    private readonly options: ClickHouseExporterOptions = {},
  ) {
    this.logger = deps.logger.child({ exporter: name });
    this.table = qualifiedTable(config.database, config.logs_table_name);
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.client ??= (this.options.client ?? createClickHouseClient)(this.config);
    const client = this.client;
    try {
      if (this.config.create_schema) {
        await client.command({ query: createDatabaseSql(this.config.database) });
        await client.command({
          query: createTableSql({
            database: this.config.database,
            table: this.config.logs_table_name,
            ttlMs: this.config.ttl,
          }),
        });
      }
      await this.checkTable(client);
      const tz = await client.query({ query: "SELECT timezone() AS tz", format: "JSONEachRow" });
      const zone = ((await tz.json()) as Array<{ tz: string }>)[0]?.tz ?? "UTC";
      this.sessionTimezone = UTC_NAMES.has(zone) ? undefined : "UTC";
    } catch (err) {
      if (err instanceof SluiceError) throw err;
      const f = classifyClickHouseError(err);
      if (f.kind === "unavailable") throw sinkUnavailable(this.name, err);
      throw new SluiceError(ErrorCode.INVALID_CONFIG, `${this.name}: ${f.reason}`, { cause: err });
    }
  }

  /** Refuses a table that lacks a column the rows carry, before any row is sent to it. */
  private async checkTable(client: ClickHouseCalls): Promise<void> {
    const res = await client.query({
      query:
        "SELECT name FROM system.columns WHERE database = {db:String} AND table = {table:String}" +
        " UNION ALL SELECT concat('engine:', engine_full) FROM system.tables" +
        " WHERE database = {db:String} AND name = {table:String}",
      query_params: { db: this.config.database, table: this.config.logs_table_name },
      format: "JSONEachRow",
    });
    const names = ((await res.json()) as Array<{ name: string }>).map((r) => r.name);
    const engine = names.find((n) => n.startsWith("engine:"))?.slice("engine:".length);
    if (engine === undefined) {
      throw new SluiceError(
        ErrorCode.INVALID_CONFIG,
        `${this.name}: table ${this.table} does not exist (create_schema is off)`,
      );
    }
    const missing = OTEL_LOGS_COLUMNS.map((c) => c.name).filter((n) => !names.includes(n));
    if (missing.length > 0) {
      throw new SluiceError(
        ErrorCode.INVALID_CONFIG,
        `${this.name}: table ${this.table} lacks column(s) ${missing.join(", ")}`,
      );
    }
    if (!/ReplacingMergeTree/.test(engine)) {
      this.logger.warn(
        { table: this.table, engine },
        "table is not a ReplacingMergeTree: superset replays may keep duplicates",
      );
    }
    if (!/Replicated/.test(engine) && !/non_replicated_deduplication_window\s*=\s*[1-9]/.test(engine)) {
      this.logger.warn(
        { table: this.table },
        "non_replicated_deduplication_window is not set: exact replays are not dropped on arrival",
      );
    }
  }

  private settings(token: string): ClickHouseSettings {
    const s: ClickHouseSettings = {
      insert_deduplicate: 1,
      insert_deduplication_token: token,
      wait_end_of_query: 1,
    };
    if (this.config.async_insert) {
      s.async_insert = 1;
      s.wait_for_async_insert = 1;
      s.async_insert_deduplicate = 1;
    }
    if (this.sessionTimezone) (s as Record<string, unknown>).session_timezone = this.sessionTimezone;
    return s;
  }

  async write(batch: ExportBatch): Promise<ExportResult> {
    if (this.stopping) throw sinkShuttingDown(this.name);
    const client = this.client;
    if (!client) throw new SluiceError(ErrorCode.INTERNAL, `${this.name}: write() before start()`);
    if (batch.records.length === 0) return { failed: [] };
    const rows = toOtelLogsRows(batch.records);
    const token = batchDeduplicationToken(batch, this.config.database, this.config.logs_table_name);
    try {
      const rejected = await insertIsolatingBadRows<OtelLogsRow>(rows, token, async (part, partToken) => {
        if (this.stopping) throw sinkShuttingDown(this.name);
        await client.insert({
          table: this.table,
          values: part,
          format: "JSONEachRow",
          clickhouse_settings: this.settings(partToken),
        });
      });
      if (rejected.length > 0) {
        this.logger.warn(
          {
            rejected: rejected.length,
            first: rejected[0]?.reason,
            topic: batch.topic,
            partition: batch.partition,
          },
          "rows refused by the server",
        );
      }
      return {
        failed: rejected.map((r) => ({
          record: batch.records[r.index] as (typeof batch.records)[number],
          code: r.code,
          reason: r.reason,
        })),
      };
    } catch (err) {
      if (err instanceof SluiceError) throw err;
      // Unreachable, overloaded, or refusing us (a dropped table, revoked grants): the rows are fine,
      // so the batch waits for the server or an operator instead of going to the dead letters.
      const cause = err instanceof BatchInsertError ? (err.cause ?? err) : err;
      const reason =
        err instanceof BatchInsertError ? err.failure.reason : classifyClickHouseError(err).reason;
      throw sinkUnavailable(this.name, new Error(`insert into ${this.table} failed: ${reason}`, { cause }));
    }
  }

  async shutdown(): Promise<void> {
    this.stopping = true;
    const client = this.client;
    this.client = undefined;
    await client?.close();
  }
}
