import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { build } from "esbuild";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isSluiceError } from "../../core/errors.js";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import {
  BASE_TIME_NS,
  batchOf,
  makeRecord,
  makeRecords,
  makeResource,
  testDeps,
} from "../common/test-support.js";
import { searchRecords, toFtsQuery } from "./search-records.js";
import {
  type SqliteSearchConfig,
  SqliteSearchExporter,
  sqliteSearchConfigSchema,
  sqliteSearchExporterFactory,
} from "./sqlite-search-exporter.js";

const require = createRequire(import.meta.url);
let dir: string;
let seq = 0;
const open: SqliteSearchExporter[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sluice-sqlite-search-"));
});

afterEach(async () => {
  for (const e of open.splice(0)) await e.shutdown();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function exporter(raw: Record<string, unknown> = {}): Promise<SqliteSearchExporter> {
  const config: SqliteSearchConfig = sqliteSearchConfigSchema.parse({
    path: join(dir, `s${++seq}`, "search.db"),
    ...raw,
  });
  const e = new SqliteSearchExporter("sqlite_search", config, testDeps(dir));
  open.push(e);
  await e.start();
  return e;
}

function rowCounts(path: string): { rows: number; distinct: number; fts: number } {
  const db = new Database(path, { readonly: true });
  try {
    const c = db.prepare("SELECT count(*) AS rows, count(DISTINCT event_id) AS d FROM records").get() as {
      rows: number;
      d: number;
    };
    const fts = db
      .prepare("SELECT count(*) AS n FROM records_fts WHERE records_fts MATCH 'handled'")
      .get() as {
      n: number;
    };
    return { rows: c.rows, distinct: c.d, fts: fts.n };
  } finally {
    db.close();
  }
}

function ftsIntegrity(path: string): void {
  const db = new Database(path);
  try {
    db.exec("INSERT INTO records_fts (records_fts) VALUES ('integrity-check')");
    // No index entry outlives its row.
    const stray = db
      .prepare(
        "SELECT count(*) AS n FROM records_fts f LEFT JOIN records r ON r.seq = f.rowid WHERE records_fts MATCH 'handled' AND r.seq IS NULL",
      )
      .get() as { n: number };
    expect(stray.n).toBe(0);
  } finally {
    db.close();
  }
}

describe("sqlite_search config", () => {
  it("defaults to <data_dir>/search/search.db with 7d retention", () => {
    const config = sqliteSearchConfigSchema.parse({});
    expect(config).toEqual({ max_age: 7 * 86_400_000, retention_check_interval: 60_000 });
    const e = sqliteSearchExporterFactory.create("sqlite_search", config, testDeps("/data"));
    expect((e as SqliteSearchExporter).path).toBe("/data/search/search.db");
    expect(sqliteSearchConfigSchema.parse({ max_age: null }).max_age).toBeNull();
    expect(() => sqliteSearchConfigSchema.parse({ max_age: "soon" })).toThrow(/duration/);
    expect(() => sqliteSearchConfigSchema.parse({ nope: 1 })).toThrow();
  });
});

describe("sqlite_search exactly once", () => {
  it("leaves one copy when a batch is written twice", async () => {
    const e = await exporter();
    const records = makeRecords(50, { firstOffset: 100n });
    expect(await e.write(batchOf(records))).toEqual({ failed: [] });
    expect(await e.write(batchOf(records))).toEqual({ failed: [] });
    expect(rowCounts(e.path)).toEqual({ rows: 50, distinct: 50, fts: 50 });
  });

  it("leaves one copy when the replay is a superset, and when ids repeat inside a batch", async () => {
    const e = await exporter();
    const first = makeRecords(30, { firstOffset: 0n });
    await e.write(batchOf(first));
    const superset = makeRecords(80, { firstOffset: 0n });
    expect(superset.slice(0, 30).map((r) => r.eventId)).toEqual(first.map((r) => r.eventId));
    await e.write(batchOf(superset));
    const dup = superset[5] as PipelineRecord;
    await e.write(batchOf([dup, { ...dup }, dup]));
    expect(rowCounts(e.path)).toEqual({ rows: 80, distinct: 80, fts: 80 });
    ftsIntegrity(e.path);
  });

  it("keeps what it wrote across a restart", async () => {
    const e = await exporter();
    await e.write(batchOf(makeRecords(10)));
    await e.shutdown();
    const again = new SqliteSearchExporter(
      "sqlite_search",
      sqliteSearchConfigSchema.parse({ path: e.path }),
      testDeps(dir),
    );
    open.push(again);
    await again.start();
    await again.write(batchOf(makeRecords(12)));
    expect(rowCounts(e.path).rows).toBe(12);
  });

  it("refuses writes after shutdown with a retryable error, and a store from a newer build", async () => {
    const e = await exporter();
    await e.shutdown();
    const err = await e.write(batchOf(makeRecords(1))).catch((x: unknown) => x);
    expect(isSluiceError(err) && err.code === "SHUTTING_DOWN" && err.retryable).toBe(true);

    const db = new Database(e.path);
    db.pragma("user_version = 99");
    db.close();
    const newer = new SqliteSearchExporter(
      "sqlite_search",
      sqliteSearchConfigSchema.parse({ path: e.path }),
      testDeps(dir),
    );
    await expect(newer.start()).rejects.toMatchObject({ code: "INVALID_CONFIG" });
  });
});

describe("searchRecords", () => {
  async function seeded(): Promise<{ e: SqliteSearchExporter; records: PipelineRecord[] }> {
    const e = await exporter();
    const billing = makeResource({ attributes: { "service.name": "billing" } });
    const records = [
      makeRecord({ body: "Zahlung in Zürich fehlgeschlagen", timeUnixNano: BASE_TIME_NS + 1n }),
      makeRecord({ body: "Привет, мир: соединение потеряно", timeUnixNano: BASE_TIME_NS + 2n }),
      makeRecord({
        body: "stack follows",
        attributes: {
          "exception.stacktrace":
            "java.lang.IllegalStateException: boom\n\tat com.shop.Cart.add(Cart.java:42)",
          "user.city": "São Paulo",
        },
        timeUnixNano: BASE_TIME_NS + 3n,
      }),
      makeRecord({
        body: { message: "structured greeting\nsecond line", lang: "ελληνικά" },
        resource: billing,
        timeUnixNano: BASE_TIME_NS + 4n,
      }),
      makeRecord({
        body: 'a-b "c" weird: NEAR(x) AND OR NOT * ^col',
        eventName: "checkout.completed",
        kind: "events",
        timeUnixNano: BASE_TIME_NS + 5n,
      }),
      makeRecord({ body: "old news", timeUnixNano: BASE_TIME_NS - 86_400_000_000_000n }),
      makeRecord({
        body: "flag set",
        attributes: { retried: true, attempt: 3n },
        timeUnixNano: BASE_TIME_NS + 6n,
      }),
    ];
    await e.write(batchOf(records));
    return { e, records };
  }

  const ids = (hits: { eventId: string }[]) => hits.map((h) => h.eventId);

  it("finds words in bodies and attribute values, across scripts and accents", async () => {
    const { e, records } = await seeded();
    const id = (i: number) => (records[i] as PipelineRecord).eventId;
    expect(ids(searchRecords(e.path, { text: "zurich" }))).toEqual([id(0)]);
    expect(ids(searchRecords(e.path, { text: "ZÜRICH fehlgeschlagen" }))).toEqual([id(0)]);
    expect(ids(searchRecords(e.path, { text: "мир" }))).toEqual([id(1)]);
    expect(ids(searchRecords(e.path, { text: "ПОТЕРЯНО" }))).toEqual([id(1)]);
    // Words right after a newline or tab inside an attribute value.
    expect(ids(searchRecords(e.path, { text: "at com.shop.Cart.add" }))).toEqual([id(2)]);
    expect(ids(searchRecords(e.path, { text: "IllegalStateException" }))).toEqual([id(2)]);
    expect(ids(searchRecords(e.path, { text: "sao paulo" }))).toEqual([id(2)]);
    expect(ids(searchRecords(e.path, { text: "second" }))).toEqual([id(3)]);
    expect(ids(searchRecords(e.path, { text: "ΕΛΛΗΝΙΚΆ" }))).toEqual([id(3)]);
    expect(ids(searchRecords(e.path, { text: "billing" }))).toEqual([id(3)]);
    expect(ids(searchRecords(e.path, { text: "checkout.completed" }))).toEqual([id(4)]);
    expect(ids(searchRecords(e.path, { text: "true" }))).toEqual([id(6)]);
    expect(ids(searchRecords(e.path, { text: "fehl*" }))).toEqual([id(0)]);
    expect(searchRecords(e.path, { text: "nowhere" })).toEqual([]);
  });

  it("takes any user input without an FTS syntax error", async () => {
    const { e, records } = await seeded();
    const weird = (records[4] as PipelineRecord).eventId;
    expect(ids(searchRecords(e.path, { text: 'a-b "c' }))).toEqual([weird]);
    expect(ids(searchRecords(e.path, { text: "NEAR(x)" }))).toEqual([weird]);
    expect(ids(searchRecords(e.path, { text: "AND OR NOT" }))).toEqual([weird]);
    expect(ids(searchRecords(e.path, { text: '"a b" c' }))).toEqual([weird]);
    expect(ids(searchRecords(e.path, { text: "^col" }))).toEqual([weird]);
    // Column filters are text too: "body" is not in the record, so nothing matches.
    expect(searchRecords(e.path, { text: "body:weird" })).toEqual([]);
    expect(ids(searchRecords(e.path, { text: "weird:" }))).toEqual([weird]);
    for (const text of [
      '"',
      '""',
      "*",
      "-",
      "(",
      ")",
      ":",
      "^",
      "'",
      "\\",
      "🙂",
      "'; DROP TABLE records; --",
      "\u0000",
    ]) {
      expect(() => searchRecords(e.path, { text })).not.toThrow();
    }
    expect(searchRecords(e.path, { text: "*" })).toEqual([]);
    expect(searchRecords(e.path, { text: "c AND" }).length).toBe(1);
    expect(rowCounts(e.path).rows).toBe(records.length);
  });

  it("lists newest first, filters by service and time, and limits", async () => {
    const { e, records } = await seeded();
    const all = searchRecords(e.path, { text: "" });
    expect(all).toHaveLength(records.length);
    const times = all.map((h) => BigInt(h.timeUnixNano));
    expect([...times].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0))).toEqual(times);
    expect(all[0]?.eventId).toBe((records[6] as PipelineRecord).eventId);
    expect(searchRecords(e.path, { text: "  ", limit: 2 })).toHaveLength(2);
    expect(ids(searchRecords(e.path, { text: "", service: "billing" }))).toEqual([
      (records[3] as PipelineRecord).eventId,
    ]);
    expect(searchRecords(e.path, { text: "structured", service: "checkout" })).toEqual([]);
    const sinceMs = Number(BASE_TIME_NS / 1_000_000n) - 1000;
    expect(searchRecords(e.path, { text: "", sinceMs })).toHaveLength(records.length - 1);
    expect(searchRecords(e.path, { text: "news", sinceMs })).toEqual([]);
    expect(searchRecords(e.path, { text: "news" })).toHaveLength(1);
  });

  it("returns the stored fields", async () => {
    const { e, records } = await seeded();
    const [hit] = searchRecords(e.path, { text: "structured" });
    const r = records[3] as PipelineRecord;
    expect(hit).toEqual({
      eventId: r.eventId,
      timeUnixNano: r.timeUnixNano.toString(),
      timestamp: "2024-05-01T12:34:56.123Z",
      service: "billing",
      severityNumber: 9,
      severityText: "INFO",
      eventName: "",
      kind: "logs",
      traceId: "",
      spanId: "",
      body: '{"message":"structured greeting\\nsecond line","lang":"ελληνικά"}',
      attributes: { "http.method": "GET" },
      resource: { attributes: { "service.name": "billing" } },
      scope: { name: "app.logger", version: "1.2.3", attributes: {} },
    });
  });

  it("explains a missing store instead of creating one", () => {
    expect(() => searchRecords(join(dir, "missing", "search.db"), { text: "x" })).toThrow(/no search store/);
  });
});

describe("toFtsQuery", () => {
  it("quotes every term and phrase", () => {
    expect(toFtsQuery("hello world")).toBe('"hello" AND "world"');
    expect(toFtsQuery('a-b "c')).toBe('"a-b" AND "c"');
    expect(toFtsQuery('say "exact words" now')).toBe('"say" AND "exact words" AND "now"');
    expect(toFtsQuery('quo"te')).toBe('"quo" AND "te"');
    expect(toFtsQuery("pre* **")).toBe('"pre" *');
    expect(toFtsQuery('say ""x"" ')).toBe('"say" AND "x"');
    expect(toFtsQuery("- * ()")).toBeUndefined();
  });
});

describe("sqlite_search retention", () => {
  it("deletes rows older than max_age and their index entries", async () => {
    const e = await exporter({ max_age: "1h" });
    const nowMs = Number(BASE_TIME_NS / 1_000_000n);
    const old = makeRecords(4500, { firstOffset: 0n }).map((r) => ({
      ...r,
      timeUnixNano: BASE_TIME_NS - 2n * 3_600_000_000_000n,
    }));
    const fresh = makeRecords(5, { firstOffset: 10_000n });
    await e.write(batchOf([...old, ...fresh]));
    expect(await e.runRetention(nowMs)).toBe(4500);
    expect(rowCounts(e.path)).toEqual({ rows: 5, distinct: 5, fts: 5 });
    ftsIntegrity(e.path);
    expect(await e.runRetention(nowMs)).toBe(0);
    // A replay of deleted records brings them back once, not twice.
    await e.write(batchOf(old.slice(0, 3)));
    await e.write(batchOf(old.slice(0, 3)));
    expect(rowCounts(e.path).rows).toBe(8);
  });

  it("keeps everything when max_age is null", async () => {
    const e = await exporter({ max_age: null });
    await e.write(batchOf(makeRecords(3).map((r) => ({ ...r, timeUnixNano: 1n }))));
    expect(await e.runRetention()).toBe(0);
    expect(rowCounts(e.path).rows).toBe(3);
  });
});

describe("sqlite_search concurrency", () => {
  let childScript: string;

  beforeAll(async () => {
    childScript = join(dir, "search-reader-child.mjs");
    const sqliteUrl = pathToFileURL(require.resolve("better-sqlite3")).href;
    // Node 20 cannot run TypeScript, so the reader is bundled; better-sqlite3
    // stays external and is imported by absolute URL from outside the project.
    await build({
      entryPoints: [fileURLToPath(new URL("./search-reader-child.ts", import.meta.url))],
      outfile: childScript,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      logLevel: "silent",
      plugins: [
        {
          name: "absolute-better-sqlite3",
          setup(b) {
            b.onResolve({ filter: /^better-sqlite3$/ }, () => ({ path: sqliteUrl, external: true }));
          },
        },
      ],
    });
  }, 60_000);

  it("lets another process search while this one writes", async () => {
    const e = await exporter();
    await e.write(batchOf(makeRecords(10, { firstOffset: 0n })));
    const child = spawn(process.execPath, [childScript, e.path, "1500"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const seen: number[] = [];
    const errors: string[] = [];
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
    });
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      if (line.startsWith("SEEN ")) seen.push(Number(line.slice(5)));
      if (line.startsWith("ERROR ")) errors.push(line);
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    let written = 10;
    const until = Date.now() + 1000;
    let offset = 10n;
    while (Date.now() < until && written < 8000) {
      await e.write(batchOf(makeRecords(200, { firstOffset: offset })));
      offset += 200n;
      written += 200;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(await exited).toBe(0);
    expect(stderr).toBe("");
    expect(errors).toEqual([]);
    expect(seen.length).toBeGreaterThan(5);
    // Each search sees a committed snapshot: whole batches, never going back.
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1] as number);
    for (const n of seen) expect((n - 10) % 200).toBe(0);
    expect(new Set(seen).size).toBeGreaterThan(1);
    expect(seen[seen.length - 1]).toBeLessThanOrEqual(written);
    expect(rowCounts(e.path).rows).toBe(written);
  });
});
