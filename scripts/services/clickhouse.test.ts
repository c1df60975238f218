import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ClickHouseClient, ClickHouseError, ClickHouseLogLevel, createClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClickHouseServer } from "./clickhouse.js";

// A cold cache creates a virtualenv and downloads the ~180 MB engine wheel first.
const SETUP_TIMEOUT_MS = 600_000;
const TEST_TIMEOUT_MS = 180_000;
const DB = "sluice_fixture";

interface Row {
  event_id: string;
  ts: string;
  service: string;
  attributes: Record<string, string>;
  body: string;
  version: string | number;
}

function rows(): Row[] {
  return [
    {
      event_id: "evt-1",
      ts: "2026-11-26 12:00:00.123456789",
      service: "checkout",
      attributes: { "http.method": "GET", region: "eu" },
      body: "first",
      version: "1",
    },
    {
      event_id: "evt-2",
      ts: "2026-11-26 12:00:01.000000001",
      service: "checkout",
      attributes: {},
      body: "second",
      version: "1",
    },
    {
      event_id: "evt-3",
      ts: "2026-11-27 00:00:00.000000000",
      service: "billing",
      attributes: { tenant: "t1" },
      body: "third",
      version: "1",
    },
  ];
}

async function selectAll(client: ClickHouseClient, final: boolean): Promise<Row[]> {
  const rs = await client.query({
    query: `SELECT event_id, ts, service, attributes, body, version FROM ${DB}.logs ${final ? "FINAL" : ""} ORDER BY event_id`,
    format: "JSONEachRow",
  });
  return rs.json<Row>();
}

async function count(client: ClickHouseClient): Promise<number> {
  const rs = await client.query({ query: `SELECT count() AS n FROM ${DB}.logs`, format: "JSONEachRow" });
  const [row] = await rs.json<{ n: string }>();
  return Number(row?.n);
}

describe("ClickHouseServer", () => {
  let dataDir: string;
  let server: ClickHouseServer;
  let client: ClickHouseClient;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "sluice-clickhouse-"));
    server = new ClickHouseServer({ dataDir });
    await server.start();
    client = createClient({
      url: server.url,
      username: server.username,
      password: server.password,
      // The test provokes one error on purpose; the client would log it as a failure.
      log: { level: ClickHouseLogLevel.OFF },
    });
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await client?.close();
    await server?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 60_000);

  it(
    "serves @clickhouse/client: DDL, deduplicated JSONEachRow inserts, FINAL reads, and data across a restart",
    async () => {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(await client.ping()).toEqual({ success: true });
      expect(server.version).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      const firstPid = server.pid;

      await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${DB}` });
      await client.command({
        query: `
          CREATE TABLE ${DB}.logs (
            event_id String,
            ts DateTime64(9, 'UTC'),
            service LowCardinality(String),
            attributes Map(LowCardinality(String), String),
            body String,
            version UInt64
          )
          ENGINE = ReplacingMergeTree(version)
          PARTITION BY toDate(ts)
          ORDER BY (service, event_id)
          TTL toDateTime(ts) + INTERVAL 3650 DAY
          SETTINGS non_replicated_deduplication_window = 1000`,
      });

      const first = await client.insert({
        table: `${DB}.logs`,
        values: rows(),
        format: "JSONEachRow",
        clickhouse_settings: { insert_deduplication_token: "batch-0001" },
      });
      expect(first.executed).toBe(true);
      expect(first.summary?.written_rows).toBe("3");
      // A retried batch carries the same token; the engine must drop it instead of adding rows.
      await client.insert({
        table: `${DB}.logs`,
        values: rows(),
        format: "JSONEachRow",
        clickhouse_settings: { insert_deduplication_token: "batch-0001" },
      });
      expect(await count(client)).toBe(3);

      // Same keys under a new token and a higher version: stored, then collapsed by FINAL.
      await client.insert({
        table: `${DB}.logs`,
        values: [{ ...rows()[0], body: "first, corrected", version: "2" }],
        format: "JSONEachRow",
        clickhouse_settings: { insert_deduplication_token: "batch-0002" },
      });
      expect(await count(client)).toBe(4);
      const final = await selectAll(client, true);
      // 26.x writes UInt64 as JSON numbers by default (output_format_json_quote_64bit_integers=0).
      expect(final.map((r) => [r.event_id, r.body, String(r.version)])).toEqual([
        ["evt-1", "first, corrected", "2"],
        ["evt-2", "second", "1"],
        ["evt-3", "third", "1"],
      ]);
      expect(final[0]?.ts).toBe("2026-11-26 12:00:00.123456789");
      expect(final[0]?.attributes).toEqual({ "http.method": "GET", region: "eu" });

      await client.command({ query: `OPTIMIZE TABLE ${DB}.logs FINAL` });
      expect(await count(client)).toBe(3);
      const partitions = await client.query({
        query: `SELECT DISTINCT partition FROM system.parts WHERE database = {db:String} AND table = 'logs' AND active ORDER BY partition`,
        query_params: { db: DB },
        format: "JSONEachRow",
      });
      expect(await partitions.json()).toEqual([{ partition: "2026-11-26" }, { partition: "2026-11-27" }]);

      const types = await client.query({
        query: `SELECT name, type FROM system.columns WHERE database = '${DB}' AND table = 'logs' ORDER BY position`,
        format: "JSONEachRow",
      });
      expect((await types.json<{ name: string; type: string }>()).map((c) => c.type)).toEqual([
        "String",
        "DateTime64(9, 'UTC')",
        "LowCardinality(String)",
        "Map(LowCardinality(String), String)",
        "String",
        "UInt64",
      ]);

      const missing = await client
        .query({ query: `SELECT * FROM ${DB}.no_such_table`, format: "JSONEachRow" })
        .catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(ClickHouseError);
      expect((missing as ClickHouseError).code).toBe("60");
      expect((missing as ClickHouseError).type).toBe("UNKNOWN_TABLE");

      const url = server.url;
      await server.restart();
      expect(server.url).toBe(url);
      expect(server.pid).not.toBe(firstPid);
      expect(await count(client)).toBe(3);
      expect((await selectAll(client, true)).map((r) => r.event_id)).toEqual(["evt-1", "evt-2", "evt-3"]);

      // Deduplication state lives with the table, so a retry after the restart is still dropped.
      await client.insert({
        table: `${DB}.logs`,
        values: rows(),
        format: "JSONEachRow",
        clickhouse_settings: { insert_deduplication_token: "batch-0001" },
      });
      expect(await count(client)).toBe(3);

      // An acknowledged insert is on disk: it survives SIGKILL right after the 200.
      await client.insert({
        table: `${DB}.logs`,
        values: [{ ...rows()[0], event_id: "evt-4", body: "fourth" }],
        format: "JSONEachRow",
        clickhouse_settings: { insert_deduplication_token: "batch-0003" },
      });
      await server.kill();
      await server.start();
      expect(await count(client)).toBe(4);
    },
    TEST_TIMEOUT_MS,
  );
});
