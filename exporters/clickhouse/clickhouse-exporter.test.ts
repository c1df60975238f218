import { ClickHouseError } from "@clickhouse/client";
import { describe, expect, it } from "vitest";
import { ErrorCode, type SluiceError } from "../../core/errors.js";
import { SinkCode, type SinkError } from "../common/codes.js";
import { OTEL_LOGS_COLUMNS, type OtelLogsRow } from "../common/otel-logs-columns.js";
import { batchOf, makeRecords, testDeps } from "../common/test-support.js";
import { type ClickHouseCalls, ClickHouseExporter } from "./clickhouse-exporter.js";
import { clickhouseConfigSchema } from "./config.js";
import { batchDeduplicationToken, createTableSql } from "./ddl.js";

describe("clickhouseConfigSchema", () => {
  it("fills the Collector's defaults", () => {
    expect(clickhouseConfigSchema.parse({ endpoint: "http://127.0.0.1:8123" })).toEqual({
      endpoint: "http://127.0.0.1:8123",
      username: "default",
      password: "",
      database: "otel",
      logs_table_name: "otel_logs",
      create_schema: true,
      timeout: 30_000,
      async_insert: false,
    });
  });

  it("reads durations and refuses bad values", () => {
    const c = clickhouseConfigSchema.parse({ endpoint: "https://[::1]:8443", ttl: "72h", timeout: "5s" });
    expect(c.ttl).toBe(72 * 3_600_000);
    expect(c.timeout).toBe(5_000);
    const ok = (v: Record<string, unknown>) => clickhouseConfigSchema.safeParse(v).success;
    expect(ok({})).toBe(false);
    expect(ok({ endpoint: "127.0.0.1:8123" })).toBe(false);
    expect(ok({ endpoint: "http://127.0.0.1:8123", database: "a`b" })).toBe(false);
    expect(ok({ endpoint: "http://127.0.0.1:8123", ttl: "10ms" })).toBe(false);
    expect(ok({ endpoint: "http://127.0.0.1:8123", table: "x" })).toBe(false);
  });
});

describe("DDL", () => {
  it("creates the otel_logs layout with EventId on a ReplacingMergeTree keyed by it", () => {
    const sql = createTableSql({ database: "otel", table: "otel_logs" });
    expect(sql).toMatch(/^CREATE TABLE IF NOT EXISTS `otel`\.`otel_logs` \(/);
    for (const c of OTEL_LOGS_COLUMNS) expect(sql).toContain(`\`${c.name}\` ${c.clickhouseType}`);
    expect(sql).toContain("`TimestampTime` DateTime DEFAULT toDateTime(Timestamp)");
    expect(sql).toContain("ENGINE = ReplacingMergeTree\n");
    expect(sql).toContain("ORDER BY (ServiceName, TimestampTime, Timestamp, EventId)");
    expect(sql).toContain("PARTITION BY toDate(TimestampTime)");
    expect(sql).toContain("non_replicated_deduplication_window = 1000");
    expect(sql).not.toContain("TTL ");
  });

  it("adds a TTL in seconds when configured", () => {
    const sql = createTableSql({ database: "db", table: "t", ttlMs: 72 * 3_600_000 });
    expect(sql).toContain("TTL TimestampTime + toIntervalSecond(259200)");
  });

  it("derives the batch token from topic, partition, offsets and table", () => {
    const b = { topic: "sluice.logs", partition: 3, firstOffset: 100n, lastOffset: 250n };
    expect(batchDeduplicationToken(b, "otel", "otel_logs")).toBe("sluice.logs-3-100-250-otel.otel_logs");
    expect(batchDeduplicationToken({ ...b, topic: "a-1", partition: 2 }, "d", "t")).not.toBe(
      batchDeduplicationToken({ ...b, topic: "a", partition: 1, firstOffset: 2n }, "d", "t"),
    );
    expect(batchDeduplicationToken({ ...b, lastOffset: 251n }, "otel", "otel_logs")).not.toBe(
      batchDeduplicationToken(b, "otel", "otel_logs"),
    );
  });
});

interface InsertCall {
  table: string;
  rows: OtelLogsRow[];
  settings: Record<string, unknown>;
}

/** Stands in for the server: answers the start-up queries and records inserts. */
function fakeClient(opts: {
  columns?: string[];
  timezone?: string;
  insertError?: (rows: OtelLogsRow[]) => unknown;
}) {
  const commands: string[] = [];
  const inserts: InsertCall[] = [];
  const columns = opts.columns ?? OTEL_LOGS_COLUMNS.map((c) => c.name);
  const client = {
    async command(p: { query: string }) {
      commands.push(p.query);
      return {};
    },
    async query(p: { query: string }) {
      const rows = p.query.includes("timezone()")
        ? [{ tz: opts.timezone ?? "UTC" }]
        : [
            ...columns.map((name) => ({ name })),
            {
              name: "engine:ReplacingMergeTree ORDER BY x SETTINGS non_replicated_deduplication_window = 1000",
            },
          ];
      return { json: async () => rows };
    },
    async insert(p: { table: string; values: OtelLogsRow[]; clickhouse_settings: Record<string, unknown> }) {
      const err = opts.insertError?.(p.values);
      if (err) throw err;
      inserts.push({ table: p.table, rows: p.values, settings: p.clickhouse_settings });
      return {};
    },
    async close() {},
  };
  return { client: client as unknown as ClickHouseCalls, commands, inserts };
}

function exporter(fake: ReturnType<typeof fakeClient>, extra: Record<string, unknown> = {}) {
  const config = clickhouseConfigSchema.parse({ endpoint: "http://127.0.0.1:8123", ...extra });
  return new ClickHouseExporter("clickhouse", config, testDeps("/tmp"), { client: () => fake.client });
}

async function caught(p: Promise<unknown>): Promise<SluiceError> {
  try {
    await p;
  } catch (err) {
    return err as SluiceError;
  }
  throw new Error("expected a rejection");
}

describe("ClickHouseExporter", () => {
  it("creates the schema at start and inserts with the batch token, waiting for the end of the query", async () => {
    const fake = fakeClient({});
    const e = exporter(fake);
    await e.start();
    expect(fake.commands[0]).toBe("CREATE DATABASE IF NOT EXISTS `otel`");
    expect(fake.commands[1]).toMatch(/^CREATE TABLE IF NOT EXISTS `otel`\.`otel_logs`/);
    const records = makeRecords(3, { firstOffset: 40n });
    expect((await e.write(batchOf(records))).failed).toEqual([]);
    expect(fake.inserts).toHaveLength(1);
    const call = fake.inserts[0] as InsertCall;
    expect(call.table).toBe("`otel`.`otel_logs`");
    expect(call.rows.map((r) => r.EventId)).toEqual(records.map((r) => r.eventId));
    expect(call.settings).toEqual({
      insert_deduplicate: 1,
      insert_deduplication_token: "sluice.logs-0-40-42-otel.otel_logs",
      wait_end_of_query: 1,
    });
  });

  it("waits for async inserts and reads times as UTC on a server in another zone", async () => {
    const fake = fakeClient({ timezone: "Europe/Berlin" });
    const e = exporter(fake, { async_insert: true, create_schema: false });
    await e.start();
    expect(fake.commands).toEqual([]);
    await e.write(batchOf(makeRecords(1)));
    expect(fake.inserts[0]?.settings).toMatchObject({
      async_insert: 1,
      wait_for_async_insert: 1,
      async_insert_deduplicate: 1,
      session_timezone: "UTC",
    });
  });

  it("refuses a table without the columns it writes", async () => {
    const fake = fakeClient({ columns: ["Timestamp", "Body"] });
    const err = await caught(exporter(fake).start());
    expect(err.code).toBe(ErrorCode.INVALID_CONFIG);
    expect(err.retryable).toBe(false);
    expect(err.message).toContain("lacks column(s) TimestampTime");
  });

  it("dead-letters the rows the server refuses and stores the rest", async () => {
    const records = makeRecords(6, { firstOffset: 0n });
    const bad = records[4]?.eventId;
    const fake = fakeClient({
      insertError: (rows) =>
        rows.some((r) => r.EventId === bad)
          ? new ClickHouseError({
              message: "Constraint `no_poison` is violated",
              code: "469",
              type: "VIOLATED_CONSTRAINT",
            })
          : undefined,
    });
    const e = exporter(fake);
    await e.start();
    const res = await e.write(batchOf(records));
    expect(res.failed.map((f) => f.record)).toEqual([records[4]]);
    expect(res.failed[0]?.code).toBe(SinkCode.SINK_REJECTED);
    expect(res.failed[0]?.reason).toContain("VIOLATED_CONSTRAINT: Constraint `no_poison` is violated");
    expect(fake.inserts.flatMap((i) => i.rows.map((r) => r.EventId)).sort()).toEqual(
      records
        .filter((r) => r.eventId !== bad)
        .map((r) => r.eventId)
        .sort(),
    );
    expect(new Set(fake.inserts.map((i) => i.settings.insert_deduplication_token)).size).toBe(
      fake.inserts.length,
    );
  });

  it("throws retryable when the server is down or refuses the user, without dead-lettering", async () => {
    const down = fakeClient({
      insertError: () =>
        Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8123"), { code: "ECONNREFUSED" }),
    });
    const e = exporter(down);
    await e.start();
    const err = await caught(e.write(batchOf(makeRecords(2))));
    expect(err.retryable).toBe(true);
    expect((err as SinkError).sinkCode).toBe(SinkCode.SINK_UNAVAILABLE);
    expect(err.message).toContain("ECONNREFUSED");

    const denied = fakeClient({
      insertError: () =>
        new ClickHouseError({ message: "Not enough privileges", code: "497", type: "ACCESS_DENIED" }),
    });
    const e2 = exporter(denied);
    await e2.start();
    const err2 = await caught(e2.write(batchOf(makeRecords(2))));
    expect(err2.retryable).toBe(true);
    expect(err2.message).toContain("ACCESS_DENIED");
  });

  it("refuses writes after shutdown with a retryable error", async () => {
    const fake = fakeClient({});
    const e = exporter(fake);
    await e.start();
    await e.shutdown();
    expect((await caught(e.write(batchOf(makeRecords(1))))).retryable).toBe(true);
  });
});
