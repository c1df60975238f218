/**
 * The clickhouse exporter against a real ClickHouse engine: a batch, its
 * exact replay and a superset replay leave one row per record (the exact
 * replay dropped on arrival by its token, the superset's copies collapsed by
 * ReplacingMergeTree), every column as the shared row mapping has it, and a
 * row the table refuses is dead-lettered alone while the rest land.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ClickHouseClient, createClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Exporter } from "../../core/pipeline/component.js";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { clickhouseExporterFactory, createTableSql } from "../../exporters/clickhouse/index.js";
import { SinkCode } from "../../exporters/common/codes.js";
import { toOtelLogsRow } from "../../exporters/common/otel-logs-columns.js";
import { batchOf, makeRecords, testDeps } from "../../exporters/common/test-support.js";
import { ClickHouseServer } from "../../scripts/services/clickhouse.js";

const SETUP_TIMEOUT_MS = 600_000;

describe("clickhouse exporter on a real server", () => {
  let dataDir: string;
  let server: ClickHouseServer;
  let sql: ClickHouseClient;
  const exporters: Exporter[] = [];

  async function rows<T>(query: string): Promise<T[]> {
    const rs = await sql.query({ query, format: "JSONEachRow" });
    return rs.json<T>();
  }

  async function count(query: string): Promise<number> {
    return Number((await rows<{ n: string | number }>(query))[0]?.n);
  }

  async function newExporter(config: Record<string, unknown>): Promise<Exporter> {
    const parsed = clickhouseExporterFactory.configSchema.parse({
      endpoint: server.url,
      username: server.username,
      password: server.password,
      ...config,
    });
    const e = clickhouseExporterFactory.create("clickhouse", parsed, testDeps(dataDir));
    await e.start();
    exporters.push(e);
    return e;
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "sluice-exp-clickhouse-"));
    server = new ClickHouseServer({ dataDir: join(dataDir, "server") });
    await server.start();
    sql = createClient({ url: server.url, username: server.username, password: server.password });
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    for (const e of exporters) await e.shutdown();
    await sql?.close();
    await server?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 60_000);

  it("writes once per record across an exact replay and a superset replay", async () => {
    const e = await newExporter({ ttl: "87600h" });
    const engine = await rows<{ engine_full: string }>(
      "SELECT engine_full FROM system.tables WHERE database = 'otel' AND name = 'otel_logs'",
    );
    expect(engine[0]?.engine_full).toMatch(/^ReplacingMergeTree/);
    expect(engine[0]?.engine_full).toContain("TTL TimestampTime + toIntervalSecond(315360000)");

    const records = makeRecords(15, { firstOffset: 100n });
    const r0 = records[0] as PipelineRecord;
    r0.traceId = "5b8efff798038103d269b633813fc60c";
    r0.spanId = "eee19b7ec3c1b174";
    r0.flags = 1;
    r0.eventName = "user.login";
    r0.body = { user: "u1", ok: true };
    r0.scope = { ...r0.scope, attributes: { "lib.flag": true } };

    const first = batchOf(records.slice(0, 10));
    expect((await e.write(first)).failed).toEqual([]);
    expect((await e.write(first)).failed).toEqual([]);
    // The exact replay carried the same token: the server dropped it on arrival.
    expect(await count("SELECT count() AS n FROM otel.otel_logs")).toBe(10);

    expect((await e.write(batchOf(records))).failed).toEqual([]);
    expect(await count("SELECT count() AS n FROM otel.otel_logs FINAL")).toBe(15);
    expect(await count("SELECT count(DISTINCT EventId) AS n FROM otel.otel_logs")).toBe(15);
    await sql.command({ query: "OPTIMIZE TABLE otel.otel_logs FINAL" });
    expect(await count("SELECT count() AS n FROM otel.otel_logs")).toBe(15);

    const stored = await rows<Record<string, unknown>>(
      `SELECT * FROM otel.otel_logs FINAL WHERE EventId = '${r0.eventId}'`,
    );
    expect(stored).toHaveLength(1);
    const expected = toOtelLogsRow(r0);
    expect(stored[0]).toEqual({ ...expected });
    expect(stored[0]?.Timestamp).toBe("2024-05-01 12:34:56.123456789");
    expect(stored[0]?.LogAttributes).toEqual({
      "http.method": "GET",
      "http.status_code": "200",
      "user.id": "u0",
    });
    expect(stored[0]?.Body).toBe('{"user":"u1","ok":true}');
  });

  it("dead-letters the row the table refuses, stores the rest once, and does so again on a replay", async () => {
    await sql.command({ query: "CREATE DATABASE IF NOT EXISTS strict_db" });
    // The exporter's own table, but with SeverityText narrowed to an Enum, as an operator might do.
    const ddl = createTableSql({ database: "strict_db", table: "otel_logs" }).replace(
      "`SeverityText` LowCardinality(String)",
      "`SeverityText` Enum8('' = 0, 'DEBUG' = 5, 'INFO' = 9, 'WARN' = 13, 'ERROR' = 17)",
    );
    expect(ddl).toContain("Enum8");
    await sql.command({ query: ddl });
    const e = await newExporter({ database: "strict_db" });

    const records = makeRecords(6, { firstOffset: 900n });
    const notice = records[4] as PipelineRecord;
    notice.severityText = "Notice";
    const batch = batchOf(records);
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await e.write(batch);
      expect(res.failed.map((f) => f.record)).toEqual([notice]);
      expect(res.failed[0]?.code).toBe(SinkCode.SINK_MAPPING_CONFLICT);
      expect(res.failed[0]?.reason).toMatch(/^UNKNOWN_ELEMENT_OF_ENUM: Unknown element 'Notice'/);
    }
    // No FINAL and no merge: the replay's sub-inserts were dropped by their tokens.
    const ids = await rows<{ EventId: string }>("SELECT EventId FROM strict_db.otel_logs ORDER BY EventId");
    expect(ids.map((r) => r.EventId)).toEqual(
      records
        .filter((r) => r !== notice)
        .map((r) => r.eventId)
        .sort(),
    );
  });
});
