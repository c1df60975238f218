import { mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ErrorCode, SluiceError } from "../../core/errors.js";
import { createLogger } from "../../core/logging/logger.js";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { CTX, testDeps, testRecord, testResource } from "../common/testing.js";
import { type EnrichProcessor, enrichConfigSchema, enrichProcessorFactory, parseCsv } from "./index.js";

const dirs: string[] = [];
const processors: EnrichProcessor[] = [];

afterEach(async () => {
  for (const p of processors.splice(0)) await p.shutdown();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), "sluice-enrich-"));
  dirs.push(dir);
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function enrich(config: Record<string, unknown>, deps = testDeps()): EnrichProcessor {
  const p = enrichProcessorFactory.create("enrich", enrichProcessorFactory.configSchema.parse(config), deps);
  processors.push(p as EnrichProcessor);
  return p as EnrichProcessor;
}

/** A logger whose JSON lines can be inspected. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { logger: createLogger("info", stream), lines };
}

const SERVICES_CSV = [
  "service.name,team,owner.email,tier,note",
  'checkout,payments,pay@example.com,1,"handles ""cards"", refunds"',
  "search,discovery,,2,検索 🔍",
  "",
].join("\r\n");

describe("enrich: static attributes", () => {
  it("adds attributes, keeping existing values unless overwrite is set", () => {
    const config = {
      attributes: { env: "prod", "deployment.ring": 2, sampled: true, ratio: 0.5, tags: ["a"] },
    };
    const r = testRecord({ attributes: { env: "staging" } });
    enrich(config).process([r], CTX);
    expect(r.attributes).toEqual({
      env: "staging",
      "deployment.ring": 2n,
      sampled: true,
      ratio: 0.5,
      tags: ["a"],
    });
    const over = testRecord({ attributes: { env: "staging" } });
    enrich({ ...config, overwrite: true }).process([over], CTX);
    expect(over.attributes.env).toBe("prod");
  });

  it("gives each record its own copy of structured values", () => {
    const [a, b] = [testRecord(), testRecord()];
    enrich({ attributes: { labels: { k: "v" } } }).process([a as PipelineRecord, b as PipelineRecord], CTX);
    (a?.attributes.labels as Record<string, string>).k = "changed";
    expect(b?.attributes.labels).toEqual({ k: "v" });
  });

  it("an empty batch passes through", () => {
    const empty: PipelineRecord[] = [];
    expect(enrich({ attributes: { a: "b" } }).process(empty, CTX)).toBe(empty);
  });
});

describe("enrich: lookups", () => {
  it("CSV keyed by a resource attribute enriches the (shared) resource", () => {
    const file = tempFile("services.csv", SERVICES_CSV);
    const shared = testResource({ "service.name": "checkout", team: "already-set" });
    const records = [testRecord({ resource: shared }), testRecord({ resource: shared })];
    enrich({ lookups: [{ file, key: "service.name" }] }).process(records, CTX);
    expect(shared.attributes).toEqual({
      "service.name": "checkout",
      team: "already-set",
      "owner.email": "pay@example.com",
      tier: "1",
      note: 'handles "cards", refunds',
    });
    expect(records[0]?.attributes).toEqual({});
  });

  it("columns, prefix, empty cells and unicode", () => {
    const file = tempFile("services.csv", SERVICES_CSV);
    const resource = testResource({ "service.name": "search" });
    enrich({
      lookups: [{ file, key: "service.name", columns: ["owner.email", "note"], prefix: "svc." }],
    }).process([testRecord({ resource })], CTX);
    expect(resource.attributes).toEqual({ "service.name": "search", "svc.note": "検索 🔍" });
  });

  it("JSON array lookups keyed by a record attribute enrich the record, keeping JSON types", () => {
    const file = tempFile(
      "customers.json",
      JSON.stringify([
        { id: "c-1", plan: "gold", seats: 40, limits: { rps: 100 } },
        { id: 2, plan: "free" },
      ]),
    );
    const records = [
      testRecord({ attributes: { "customer.id": "c-1" } }),
      testRecord({ attributes: { "customer.id": 2n } }),
      testRecord({ attributes: { "customer.id": "unknown" } }),
      testRecord({ resource: testResource({ "customer.id": "c-1" }) }),
    ];
    enrich({
      lookups: [{ file, key: "customer.id", key_column: "id", from: "record", prefix: "customer." }],
    }).process(records, CTX);
    expect(records.map((r) => r.attributes)).toEqual([
      {
        "customer.id": "c-1",
        "customer.plan": "gold",
        "customer.seats": 40n,
        "customer.limits": { rps: 100n },
      },
      { "customer.id": 2n, "customer.plan": "free" },
      { "customer.id": "unknown" },
      {},
    ]);
  });

  it("JSON objects keyed by the key, with a path relative to the working directory", () => {
    const path = tempFile(
      "regions.json",
      '{"eu-west-1":{"region.name":"Ireland"},"ap-northeast-1":{"region.name":"東京"}}',
    );
    const resource = testResource({ "cloud.region": "ap-northeast-1" });
    enrich({ lookups: [{ file: relative(process.cwd(), path), key: "cloud.region" }] }).process(
      [testRecord({ resource })],
      CTX,
    );
    expect(resource.attributes["region.name"]).toBe("東京");
  });

  it("a missing or malformed file at start-up is a configuration error", () => {
    const catchError = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err as SluiceError;
      }
      throw new Error("expected an error");
    };
    const missing = catchError(() =>
      enrich({ lookups: [{ file: "/nonexistent/services.csv", key: "service.name" }] }),
    );
    expect(missing).toBeInstanceOf(SluiceError);
    expect(missing.code).toBe(ErrorCode.INVALID_CONFIG);
    expect(missing.message).toMatch(
      /processors\.enrich: cannot read lookup file \/nonexistent\/services\.csv/,
    );

    const noKey = tempFile("x.csv", "name,team\na,b\n");
    expect(catchError(() => enrich({ lookups: [{ file: noKey, key: "service.name" }] })).message).toMatch(
      /no "service\.name" column/,
    );
    const badJson = tempFile("x.json", "[{");
    expect(catchError(() => enrich({ lookups: [{ file: badJson, key: "k" }] })).message).toMatch(
      /invalid JSON/,
    );
    const notObjects = tempFile("y.json", "[1,2]");
    expect(catchError(() => enrich({ lookups: [{ file: notObjects, key: "k" }] })).message).toMatch(
      /must be an object/,
    );
  });

  it("refuses other file types and unknown options", () => {
    expect(
      enrichConfigSchema.safeParse({ lookups: [{ file: "a.xml", key: "k" }] }).error?.issues[0]?.message,
    ).toMatch(/expected a \.csv or \.json file/);
    expect(
      enrichConfigSchema.safeParse({ lookups: [{ file: "a.csv", key: "k", from: "scope" }] }).success,
    ).toBe(false);
    expect(enrichConfigSchema.parse({}).reload_interval).toBe(5000);
  });
});

describe("enrich: reloading", () => {
  const resourceFor = (service: string) => testResource({ "service.name": service });

  async function teamAfterReload(p: EnrichProcessor, want: string | undefined) {
    await vi.waitFor(
      () => {
        const resource = resourceFor("checkout");
        p.process([testRecord({ resource })], CTX);
        expect(resource.attributes.team).toBe(want);
      },
      { timeout: 5000, interval: 20 },
    );
  }

  it("picks up a changed file on the next poll", async () => {
    const file = tempFile("services.csv", "service.name,team\ncheckout,payments\n");
    const p = enrich({ lookups: [{ file, key: "service.name" }], reload_interval: "20ms" });
    await p.start();
    await teamAfterReload(p, "payments");
    writeFileSync(file, "service.name,team\ncheckout,billing\n");
    await teamAfterReload(p, "billing");
    // An atomic replace (new inode) is noticed too.
    const next = `${file}.tmp`;
    writeFileSync(next, "service.name,team\ncheckout,finance\n");
    renameSync(next, file);
    await teamAfterReload(p, "finance");
  });

  it("keeps the last good table when the file turns malformed or disappears, warning once", async () => {
    const { logger, lines } = capturingLogger();
    const file = tempFile("services.json", '{"checkout":{"team":"payments"}}');
    const p = enrich({ lookups: [{ file, key: "service.name" }], reload_interval: "1h" }, testDeps(logger));

    writeFileSync(file, '{"checkout": {"team": ');
    await p.reload();
    await p.reload();
    await teamAfterReload(p, "payments");
    expect(lines.filter((l) => l.level === 40)).toHaveLength(1);
    expect(lines[0]?.msg).toMatch(/malformed; keeping the last good table/);

    rmSync(file);
    await p.reload();
    await p.reload();
    await teamAfterReload(p, "payments");
    expect(lines.filter((l) => l.level === 40)).toHaveLength(2);
    expect(lines[1]?.msg).toMatch(/unreadable; keeping the last good table/);

    writeFileSync(file, '{"checkout":{"team":"platform"}}');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    await p.reload();
    await teamAfterReload(p, "platform");
    expect(lines.at(-1)?.msg).toBe("lookup file reloaded");
  });
});

describe("enrich: CSV reader", () => {
  it("reads RFC 4180 quoting, CRLF, BOM, missing final newline and trailing empty cells", () => {
    expect(parseCsv('\uFEFFa,b,c\r\n"x, y","line\nbreak",\n1,"say ""hi""",3')).toEqual([
      ["a", "b", "c"],
      ["x, y", "line\nbreak", ""],
      ["1", 'say "hi"', "3"],
    ]);
    expect(parseCsv("a,b,")).toEqual([["a", "b", ""]]);
    expect(() => parseCsv('a,"b\n')).toThrow(/unterminated/);
    expect(() => parseCsv('"a"b,c')).toThrow(/text after a quoted cell/);
  });
});
