import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { isSluiceError } from "../../core/errors.js";
import { silentLogger } from "../../core/logging/logger.js";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { SinkError } from "../common/codes.js";
import {
  BASE_TIME_NS,
  batchOf,
  makeRecord,
  makeRecords,
  makeResource,
  makeScope,
  testDeps,
} from "../common/test-support.js";
import {
  DuckdbWarehouseExporter,
  duckdbWarehouseConfigSchema,
  duckdbWarehouseExporterFactory,
} from "./duckdb-warehouse-exporter.js";
import { queryWarehouseFile } from "./query.js";

const require = createRequire(import.meta.url);
let dir: string;
let seq = 0;
const open: DuckdbWarehouseExporter[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sluice-duckdb-"));
});

afterEach(async () => {
  for (const e of open.splice(0)) await e.shutdown();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function freshPath(): string {
  return join(dir, `w${++seq}`, "warehouse.duckdb");
}

async function exporter(path = freshPath()): Promise<DuckdbWarehouseExporter> {
  const e = new DuckdbWarehouseExporter(
    "duckdb_warehouse",
    duckdbWarehouseConfigSchema.parse({ path }),
    testDeps(dir),
  );
  open.push(e);
  await e.start();
  return e;
}

async function counts(e: DuckdbWarehouseExporter): Promise<{ rows: unknown; distinct: unknown }> {
  const r = await e.query("SELECT count(*) AS n, count(DISTINCT EventId) AS d FROM otel_logs");
  return { rows: r.rows[0]?.[0], distinct: r.rows[0]?.[1] };
}

describe("duckdb_warehouse config", () => {
  it("defaults to <data_dir>/warehouse/warehouse.duckdb", () => {
    const config = duckdbWarehouseConfigSchema.parse({});
    const e = duckdbWarehouseExporterFactory.create("duckdb_warehouse", config, testDeps("/data"));
    expect((e as DuckdbWarehouseExporter).path).toBe("/data/warehouse/warehouse.duckdb");
    expect(() => duckdbWarehouseConfigSchema.parse({ other: 1 })).toThrow();
  });
});

describe("duckdb_warehouse exactly once", () => {
  it("leaves one copy when a batch is written twice", async () => {
    const e = await exporter();
    const records = makeRecords(40, { firstOffset: 7n });
    expect(await e.write(batchOf(records))).toEqual({ failed: [] });
    expect(await e.write(batchOf(records))).toEqual({ failed: [] });
    expect(await counts(e)).toEqual({ rows: 40, distinct: 40 });
  });

  it("leaves one copy for a superset replay, ids repeated in a batch, and batches past one chunk", async () => {
    const e = await exporter();
    await e.write(batchOf(makeRecords(1000, { firstOffset: 0n })));
    const superset = makeRecords(5000, { firstOffset: 0n });
    const dup = superset[10] as PipelineRecord;
    await e.write(batchOf([...superset, dup, { ...dup }]));
    expect(await counts(e)).toEqual({ rows: 5000, distinct: 5000 });
    await e.write(batchOf(superset));
    expect(await counts(e)).toEqual({ rows: 5000, distinct: 5000 });
  });

  it("appends new batches directly and sends only replays through the stage", async () => {
    const debug = vi.spyOn(silentLogger, "debug");
    try {
      const e = await exporter();
      await e.write(batchOf(makeRecords(10, { firstOffset: 0n })));
      await e.write(batchOf(makeRecords(10, { firstOffset: 10n })));
      expect(debug).not.toHaveBeenCalled();
      await e.write(batchOf(makeRecords(10, { firstOffset: 10n })));
      expect(debug).toHaveBeenCalledTimes(1);
      expect(await counts(e)).toEqual({ rows: 20, distinct: 20 });
    } finally {
      debug.mockRestore();
    }
  });

  it("runs concurrent writes one transaction at a time", async () => {
    const e = await exporter();
    const batches = [0n, 100n, 200n, 300n].map((o) => batchOf(makeRecords(100, { firstOffset: o })));
    await Promise.all([...batches, ...batches].map((b) => e.write(b)));
    expect(await counts(e)).toEqual({ rows: 400, distinct: 400 });
  });

  it("keeps its rows across a restart", async () => {
    const path = freshPath();
    const e = await exporter(path);
    await e.write(batchOf(makeRecords(10, { firstOffset: 0n })));
    await e.shutdown();
    const again = await exporter(path);
    await again.write(batchOf(makeRecords(20, { firstOffset: 0n })));
    expect(await counts(again)).toEqual({ rows: 20, distinct: 20 });
  });

  it("rolls a failed batch back whole and reports it as retryable", async () => {
    const e = await exporter();
    await e.write(batchOf(makeRecords(10, { firstOffset: 0n })));
    const writer = (e as unknown as { writer: DuckDBConnection }).writer;
    const run = writer.run.bind(writer);
    let failNext = true;
    writer.run = (async (sql: string, ...rest: unknown[]) => {
      if (failNext && sql.startsWith("INSERT")) {
        failNext = false;
        throw new Error("disk on fire");
      }
      return (run as (...a: unknown[]) => ReturnType<typeof run>)(sql, ...rest);
    }) as typeof writer.run;
    const batch = batchOf(makeRecords(30, { firstOffset: 0n }));
    const err = await e.write(batch).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(SinkError);
    expect(err).toMatchObject({ retryable: true, sinkCode: "SINK_UNAVAILABLE" });
    expect(await counts(e)).toEqual({ rows: 10, distinct: 10 });
    await e.write(batch);
    expect(await counts(e)).toEqual({ rows: 30, distinct: 30 });
  });

  it("refuses writes after shutdown with a retryable error", async () => {
    const e = await exporter();
    await e.shutdown();
    const err = await e.write(batchOf(makeRecords(1))).catch((x: unknown) => x);
    expect(isSluiceError(err) && err.code === "SHUTTING_DOWN" && err.retryable).toBe(true);
  });
});

describe("duckdb_warehouse table", () => {
  it("stores every column with its type, maps included", async () => {
    const e = await exporter();
    const r = makeRecord({
      eventId: "evt-1",
      kind: "events",
      eventName: "cart.checkout",
      timeUnixNano: BASE_TIME_NS,
      traceId: "5b8efff798038103d269b633813fc60c",
      spanId: "eee19b7ec3c1b174",
      flags: 1,
      severityNumber: 13,
      severityText: "WARN",
      body: { items: [1n, 2n], note: "über" },
      attributes: { "cart.total": 12.5, user: { id: "u1", vip: true } },
      resource: makeResource({ schemaUrl: "https://opentelemetry.io/schemas/1.26.0" }),
      scope: makeScope({ attributes: { "lib.mode": "fast" }, schemaUrl: "scope-url" }),
    });
    await e.write(batchOf([r]));
    const q = await e.query("SELECT * FROM otel_logs");
    expect(q.columns).toEqual([
      "Timestamp",
      "TimestampTime",
      "TraceId",
      "SpanId",
      "TraceFlags",
      "SeverityText",
      "SeverityNumber",
      "ServiceName",
      "Body",
      "ResourceSchemaUrl",
      "ResourceAttributes",
      "ScopeSchemaUrl",
      "ScopeName",
      "ScopeVersion",
      "ScopeAttributes",
      "LogAttributes",
      "EventName",
      "EventId",
    ]);
    expect(q.types).toEqual([
      "TIMESTAMP_NS",
      "TIMESTAMP",
      "VARCHAR",
      "VARCHAR",
      "UTINYINT",
      "VARCHAR",
      "UTINYINT",
      "VARCHAR",
      "VARCHAR",
      "VARCHAR",
      "MAP(VARCHAR, VARCHAR)",
      "VARCHAR",
      "VARCHAR",
      "VARCHAR",
      "MAP(VARCHAR, VARCHAR)",
      "MAP(VARCHAR, VARCHAR)",
      "VARCHAR",
      "VARCHAR",
    ]);
    expect(q.rows).toEqual([
      [
        "2024-05-01 12:34:56.123456789",
        "2024-05-01 12:34:56",
        "5b8efff798038103d269b633813fc60c",
        "eee19b7ec3c1b174",
        1,
        "WARN",
        13,
        "checkout",
        '{"items":[1,2],"note":"über"}',
        "https://opentelemetry.io/schemas/1.26.0",
        { "service.name": "checkout", "host.name": "node-1" },
        "scope-url",
        "app.logger",
        "1.2.3",
        { "lib.mode": "fast" },
        { "cart.total": "12.5", "user.id": "u1", "user.vip": "true" },
        "cart.checkout",
        "evt-1",
      ],
    ]);
    expect(q.truncated).toBe(false);
    // JSON-safe all the way down: the admin endpoint sends this as it is.
    expect(JSON.parse(JSON.stringify(q.rows))).toEqual(q.rows);
  });

  it("answers typed SQL over the maps and timestamps", async () => {
    const e = await exporter();
    await e.write(batchOf(makeRecords(30, { firstOffset: 0n })));
    const q = await e.query(
      `SELECT LogAttributes['user.id'] AS user, count(*) AS n, max(Timestamp) AS last,
              epoch_ns(min(Timestamp)) AS first_ns, '1180591620717411303424'::HUGEINT AS huge, [1, 2] AS list,
              {'a': 1} AS struct, NULL AS nothing
       FROM otel_logs WHERE LogAttributes['http.status_code'] = '200' GROUP BY ALL ORDER BY user LIMIT 2`,
    );
    expect(q.columns).toEqual(["user", "n", "last", "first_ns", "huge", "list", "struct", "nothing"]);
    expect(q.types.slice(0, 4)).toEqual(["VARCHAR", "BIGINT", "TIMESTAMP_NS", "BIGINT"]);
    expect(q.rows[0]?.slice(0, 2)).toEqual(["u0", 1]);
    expect(q.rows[0]?.[2]).toBe("2024-05-01 12:34:56.123456789");
    expect(q.rows[0]?.[3]).toBe(BASE_TIME_NS.toString());
    expect(q.rows[0]?.slice(5)).toEqual([[1, 2], { a: 1 }, null]);
    expect(q.rows[0]?.[4]).toBe("1180591620717411303424");
  });

  it("cuts results at maxRows and says so", async () => {
    const e = await exporter();
    await e.write(batchOf(makeRecords(50, { firstOffset: 0n })));
    const q = await e.query("SELECT EventId FROM otel_logs", { maxRows: 20 });
    expect(q.rows).toHaveLength(20);
    expect(q.truncated).toBe(true);
  });

  it("runs reads only, and nothing that touches other files", async () => {
    const e = await exporter();
    await e.write(batchOf(makeRecords(3)));
    for (const sql of [
      "DELETE FROM otel_logs",
      "DROP TABLE otel_logs",
      "INSERT INTO otel_logs SELECT * FROM otel_logs",
      "CREATE TABLE x (a INT)",
      "COPY otel_logs TO '/tmp/x.csv'",
      "ATTACH '/tmp/other.duckdb'",
      "SET threads = 1",
      "SELECT 1; DELETE FROM otel_logs",
    ]) {
      await expect(e.query(sql), sql).rejects.toMatchObject({ code: "INVALID_DATA" });
    }
    await expect(e.query("SELECT * FROM read_csv('/etc/hostname')")).rejects.toThrow(/disabled|Permission/);
    await expect(e.query("SELEC nonsense")).rejects.toMatchObject({ code: "INVALID_DATA" });
    for (const sql of [
      "DESCRIBE otel_logs",
      "SHOW TABLES",
      "SUMMARIZE otel_logs",
      "EXPLAIN SELECT 1",
      "FROM otel_logs",
    ]) {
      await expect(e.query(sql), sql).resolves.toBeDefined();
    }
    expect(await counts(e)).toEqual({ rows: 3, distinct: 3 });
  });

  it("refuses a file whose otel_logs table has other columns, and a second writer in this process", async () => {
    const path = freshPath();
    mkdirSync(join(path, ".."), { recursive: true });
    const inst = await DuckDBInstance.create(path);
    const conn = await inst.connect();
    await conn.run("CREATE TABLE otel_logs (EventId VARCHAR, Body VARCHAR)");
    conn.closeSync();
    inst.closeSync();
    const e = new DuckdbWarehouseExporter("w", { path }, testDeps(dir));
    await expect(e.start()).rejects.toMatchObject({ code: "INVALID_CONFIG" });

    const ok = await exporter();
    const twin = new DuckdbWarehouseExporter("twin", { path: ok.path }, testDeps(dir));
    await expect(twin.start()).rejects.toMatchObject({ code: "INVALID_CONFIG" });
    expect(await counts(ok)).toEqual({ rows: 0, distinct: 0 });
  });
});

describe("queryWarehouseFile", () => {
  let holder: ChildProcess | undefined;

  afterEach(() => {
    if (holder?.pid !== undefined && holder.exitCode === null) process.kill(holder.pid, "SIGKILL");
    holder = undefined;
  });

  it("goes through the exporter that holds the file in this process, and opens it alone otherwise", async () => {
    const e = await exporter();
    await e.write(batchOf(makeRecords(5, { firstOffset: 0n })));
    expect((await queryWarehouseFile(e.path, "SELECT count(*) FROM otel_logs")).rows).toEqual([[5]]);
    await e.shutdown();
    const q = await queryWarehouseFile(e.path, "SELECT count(*) AS n FROM otel_logs");
    expect(q).toEqual({ columns: ["n"], types: ["BIGINT"], rows: [[5]], truncated: false });
    await expect(queryWarehouseFile(e.path, "DELETE FROM otel_logs")).rejects.toMatchObject({
      code: "INVALID_DATA",
    });
    await expect(queryWarehouseFile(join(dir, "nope.duckdb"), "SELECT 1")).rejects.toThrow(/no warehouse at/);
  });

  it("says clearly when another process holds the file", async () => {
    const path = freshPath();
    const e = await exporter(path);
    await e.write(batchOf(makeRecords(2)));
    await e.shutdown();
    const script = join(dir, "hold.cjs");
    writeFileSync(
      script,
      `const { DuckDBInstance } = require(${JSON.stringify(require.resolve("@duckdb/node-api"))});
       DuckDBInstance.create(process.argv[2]).then(async (i) => { await i.connect(); process.stdout.write("READY\\n"); });
       process.stdin.resume(); process.stdin.on("end", () => process.exit(0));`,
    );
    const child = spawn(process.execPath, [script, path], { stdio: ["pipe", "pipe", "inherit"] });
    holder = child;
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      lines.on("line", (l) => l === "READY" && resolve());
      child.once("exit", () => reject(new Error("holder exited")));
    });
    const err = await queryWarehouseFile(path, "SELECT 1").catch((x: unknown) => x);
    expect(err).toBeInstanceOf(SinkError);
    expect((err as SinkError).retryable).toBe(true);
    expect((err as Error).message).toMatch(new RegExp(`in use by another process \\(pid ${child.pid}\\)`));
    const writer = new DuckdbWarehouseExporter("w", { path }, testDeps(dir));
    await expect(writer.start()).rejects.toMatchObject({ code: "INVALID_CONFIG" });
    child.stdin?.end();
    await new Promise((resolve) => child.once("exit", resolve));
    expect((await queryWarehouseFile(path, "SELECT count(*) FROM otel_logs")).rows).toEqual([[2]]);
  });
});
