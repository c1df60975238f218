import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { gunzipSync } from "node:zlib";
import { fromBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isSluiceError } from "../../core/errors.js";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { otlpJsonLogsToProtobuf } from "../../gateway/otlp-json/otlp-json-to-protobuf.js";
import { ExportLogsServiceRequestSchema } from "../../proto/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js";
import { SinkError } from "../common/codes.js";
import { toOtlpJsonLinesText } from "../common/otlp-json.js";
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
  FileArchiveExporter,
  fileArchiveConfigSchema,
  fileArchiveExporterFactory,
} from "./file-archive-exporter.js";

const HOUR = 3_600_000_000_000n;
let dir: string;
let seq = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sluice-archive-"));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function exporter(raw: Record<string, unknown> = {}): Promise<FileArchiveExporter> {
  const e = new FileArchiveExporter(
    "file_archive",
    fileArchiveConfigSchema.parse({ path: join(dir, `a${++seq}`), ...raw }),
    testDeps(dir),
  );
  await e.start();
  return e;
}

function files(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: "utf8" })
    .filter((p) => statSync(join(root, p)).isFile())
    .sort();
}

function lines(root: string, key: string): string[] {
  const raw = readFileSync(join(root, key));
  const text = key.endsWith(".gz") ? gunzipSync(raw).toString("utf8") : raw.toString("utf8");
  expect(text.endsWith("\n")).toBe(true);
  return text.slice(0, -1).split("\n");
}

/** Every record of an object as the gateway would decode it: time and body are enough to tell them apart. */
function decoded(root: string, key: string): Array<{ time: bigint; body: unknown }> {
  return lines(root, key).flatMap((line) => {
    const req = fromBinary(ExportLogsServiceRequestSchema, otlpJsonLogsToProtobuf(line));
    return req.resourceLogs.flatMap((rl) =>
      rl.scopeLogs.flatMap((sl) =>
        sl.logRecords.map((lr) => ({ time: lr.timeUnixNano, body: lr.body?.value.value })),
      ),
    );
  });
}

describe("file_archive config", () => {
  it("defaults to <data_dir>/archive, prefix logs, gzip", () => {
    const config = fileArchiveConfigSchema.parse({});
    expect(config).toEqual({ prefix: "logs", compression: "gzip" });
    const e = fileArchiveExporterFactory.create("file_archive", config, testDeps("/data"));
    expect((e as FileArchiveExporter).root).toBe("/data/archive");
    expect(() => fileArchiveConfigSchema.parse({ prefix: "../escape" })).toThrow(/\.\./);
    expect(() => fileArchiveConfigSchema.parse({ compression: "zstd" })).toThrow();
  });
});

describe("file_archive objects", () => {
  it("writes one gzip object per hour at the Hive key, holding OTLP JSON lines that round-trip", async () => {
    const e = await exporter();
    const resource = makeResource();
    const scope = makeScope();
    const hour0 = BASE_TIME_NS - (BASE_TIME_NS % HOUR);
    const at = (t: bigint, offset: bigint, body: string) =>
      makeRecord({
        resource,
        scope,
        timeUnixNano: t,
        body,
        origin: { ...makeRecord().origin, topic: "sluice.logs", partition: 3, offset },
      });
    const records = [
      at(hour0 + 5n, 500n, "a"),
      at(hour0 + HOUR + 1n, 501n, "b"),
      at(hour0 + HOUR - 1n, 502n, "c"),
      at(hour0 + 2n * HOUR, 503n, "d"),
      at(hour0 + 7n, 503n, "e"),
    ];
    await e.write({ records, topic: "sluice.logs", partition: 3, firstOffset: 500n, lastOffset: 503n });
    expect(files(e.root)).toEqual([
      "logs/year=2024/month=05/day=01/hour=12/sluice.logs-p3-00000000000000000500.jsonl.gz",
      "logs/year=2024/month=05/day=01/hour=13/sluice.logs-p3-00000000000000000500.jsonl.gz",
      "logs/year=2024/month=05/day=01/hour=14/sluice.logs-p3-00000000000000000500.jsonl.gz",
    ]);
    const [h12, h13, h14] = files(e.root) as [string, string, string];
    expect(decoded(e.root, h12).map((r) => r.body)).toEqual(["a", "c", "e"]);
    expect(decoded(e.root, h13).map((r) => r.body)).toEqual(["b"]);
    expect(decoded(e.root, h14).map((r) => r.body)).toEqual(["d"]);
    // Exactly the lines the shared encoder gives, which the common tests round-trip field by field.
    expect(`${lines(e.root, h12).join("\n")}\n`).toBe(
      toOtlpJsonLinesText([records[0], records[2], records[4]] as PipelineRecord[]),
    );
  });

  it("writes plain .jsonl without compression and honours an empty prefix", async () => {
    const e = await exporter({ compression: "none", prefix: "" });
    await e.write(batchOf(makeRecords(3, { firstOffset: 42n })));
    const [key] = files(e.root);
    expect(key).toBe("year=2024/month=05/day=01/hour=12/sluice.logs-p0-00000000000000000042.jsonl");
    expect(decoded(e.root, key as string)).toHaveLength(3);
  });

  it("starts a new line when the resource or scope changes", async () => {
    const e = await exporter();
    const r2 = makeResource({ attributes: { "service.name": "billing" } });
    const records = [
      ...makeRecords(2, { firstOffset: 0n }),
      ...makeRecords(2, { firstOffset: 2n, resource: r2 }),
    ];
    await e.write(batchOf(records));
    const [key] = files(e.root);
    expect(lines(e.root, key as string)).toHaveLength(2);
    expect(decoded(e.root, key as string)).toHaveLength(4);
  });
});

describe("file_archive exactly once", () => {
  it("overwrites on replay and on a superset replay, leaving one copy of each record", async () => {
    const e = await exporter();
    const first = makeRecords(20, { firstOffset: 1000n });
    await e.write(batchOf(first));
    await e.write(batchOf(first));
    expect(files(e.root)).toHaveLength(1);
    const superset = makeRecords(50, { firstOffset: 1000n });
    const late = makeRecords(5, { firstOffset: 1050n }).map((r) => ({
      ...r,
      timeUnixNano: r.timeUnixNano + HOUR,
    }));
    await e.write(batchOf([...superset, ...late], 1000n));
    const keys = files(e.root);
    expect(keys).toHaveLength(2);
    const all = keys.flatMap((k) => decoded(e.root, k));
    expect(all).toHaveLength(55);
    expect(new Set(all.map((r) => `${r.time}/${String(r.body)}`)).size).toBe(55);
    // The next batch gets names of its own.
    await e.write(batchOf(makeRecords(3, { firstOffset: 1055n })));
    expect(files(e.root)).toHaveLength(3);
  });

  it("leaves no temporary files behind, and a failed write leaves the old object whole", async () => {
    const e = await exporter();
    const records = makeRecords(10, { firstOffset: 0n });
    await e.write(batchOf(records));
    const [key] = files(e.root) as [string];
    const before = readFileSync(join(e.root, key));
    expect(readdirSync(join(e.root, key, ".."))).toEqual([key.split("/").pop()]);

    // A folder where the next batch's object must go makes its rename fail.
    const blocked = join(
      e.root,
      e.objectKey({ topic: "sluice.logs", partition: 0, firstOffset: 10n }, BASE_TIME_NS),
    );
    mkdirSync(join(blocked, "x"), { recursive: true });
    const err = await e.write(batchOf(makeRecords(5, { firstOffset: 10n }))).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(SinkError);
    expect((err as SinkError).retryable).toBe(true);
    expect(readdirSync(join(blocked, "..")).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    expect(readFileSync(join(e.root, key))).toEqual(before);
  });

  it("refuses writes after shutdown with a retryable error", async () => {
    const e = await exporter();
    await e.shutdown();
    const err = await e.write(batchOf(makeRecords(1))).catch((x: unknown) => x);
    expect(isSluiceError(err) && err.code === "SHUTTING_DOWN" && err.retryable).toBe(true);
  });

  it("keeps keys relative to the root", async () => {
    const e = await exporter({ prefix: "/a/b/" });
    await e.write(batchOf(makeRecords(1, { firstOffset: 9n })));
    const [key] = files(e.root);
    expect(relative(e.root, join(e.root, key as string)).startsWith("a/b/year=2024/")).toBe(true);
  });
});
