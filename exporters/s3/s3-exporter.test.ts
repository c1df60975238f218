import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ErrorCode, type SluiceError } from "../../core/errors.js";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { SinkCode, type SinkError } from "../common/codes.js";
import { BASE_TIME_NS, batchOf, makeRecords, testDeps } from "../common/test-support.js";
import { s3ConfigSchema } from "./config.js";
import { archiveObjects, GZIP_TYPE, NDJSON_TYPE } from "./objects.js";
import { type S3Calls, S3Exporter, s3ClientConfig } from "./s3-exporter.js";

const HOUR_NS = 3_600_000_000_000n;

describe("s3ConfigSchema", () => {
  it("fills the defaults", () => {
    expect(s3ConfigSchema.parse({ bucket: "logs-archive" })).toEqual({
      bucket: "logs-archive",
      prefix: "logs",
      region: "us-east-1",
      force_path_style: false,
      compression: "gzip",
      create_bucket: false,
      timeout: 30_000,
    });
  });

  it("maps to the SDK client's options", () => {
    const c = s3ConfigSchema.parse({
      bucket: "b-1",
      endpoint: "http://127.0.0.1:9000",
      force_path_style: true,
      region: "eu-west-1",
      credentials: { access_key_id: "AK", secret_access_key: "SK" },
      timeout: "5s",
    });
    expect(s3ClientConfig(c)).toEqual({
      region: "eu-west-1",
      forcePathStyle: true,
      endpoint: "http://127.0.0.1:9000",
      credentials: { accessKeyId: "AK", secretAccessKey: "SK" },
      requestHandler: { requestTimeout: 5_000, connectionTimeout: 5_000 },
    });
  });

  it("refuses bad values", () => {
    const ok = (v: Record<string, unknown>) => s3ConfigSchema.safeParse(v).success;
    expect(ok({})).toBe(false);
    expect(ok({ bucket: "Upper" })).toBe(false);
    expect(ok({ bucket: "b-1", compression: "zstd" })).toBe(false);
    expect(ok({ bucket: "b-1", endpoint: "127.0.0.1:9000" })).toBe(false);
    expect(ok({ bucket: "b-1", credentials: { access_key_id: "AK" } })).toBe(false);
  });
});

function parseLines(body: Buffer, gzip = true): Array<{ resourceLogs: unknown[] }> {
  const text = (gzip ? gunzipSync(body) : body).toString("utf8");
  expect(text.endsWith("\n")).toBe(true);
  return text
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l));
}

function logRecordsOf(lines: Array<{ resourceLogs: unknown[] }>): Array<Record<string, unknown>> {
  return lines.flatMap((l) =>
    (l.resourceLogs as Array<{ scopeLogs: Array<{ logRecords: Array<Record<string, unknown>> }> }>).flatMap(
      (rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords),
    ),
  );
}

describe("archiveObjects", () => {
  it("makes one object per UTC hour, keyed by the batch's first offset", () => {
    const records = makeRecords(4, { firstOffset: 1234n });
    (records[2] as PipelineRecord).timeUnixNano = BASE_TIME_NS + HOUR_NS;
    const objects = archiveObjects(batchOf(records), { prefix: "logs/", compression: "gzip" });
    expect(objects.map((o) => o.key)).toEqual([
      "logs/year=2024/month=05/day=01/hour=12/sluice.logs-p0-00000000000000001234.jsonl.gz",
      "logs/year=2024/month=05/day=01/hour=13/sluice.logs-p0-00000000000000001234.jsonl.gz",
    ]);
    expect(objects.map((o) => o.records)).toEqual([3, 1]);
    expect(objects[0]?.contentType).toBe(GZIP_TYPE);
    expect(objects[0]?.metadata).toEqual({
      format: "otlp-json-lines",
      topic: "sluice.logs",
      partition: "0",
      "first-offset": "1234",
      "last-offset": "1237",
      records: "3",
    });
    const first = logRecordsOf(parseLines(objects[0]?.body as Buffer));
    expect(first.map((r) => (r.body as { stringValue: string }).stringValue)).toEqual([
      "request 1234 handled",
      "request 1235 handled",
      "request 1237 handled",
    ]);
  });

  it("writes plain JSON lines without compression", () => {
    const objects = archiveObjects(batchOf(makeRecords(2, { firstOffset: 5n })), {
      prefix: "",
      compression: "none",
    });
    expect(objects[0]?.key).toBe(
      "year=2024/month=05/day=01/hour=12/sluice.logs-p0-00000000000000000005.jsonl",
    );
    expect(objects[0]?.contentType).toBe(NDJSON_TYPE);
    expect(logRecordsOf(parseLines(objects[0]?.body as Buffer, false))).toHaveLength(2);
  });

  it("gives a superset replay the same keys, holding every record", () => {
    const records = makeRecords(6, { firstOffset: 50n });
    const a = archiveObjects(batchOf(records.slice(0, 3)), { prefix: "logs", compression: "gzip" });
    const b = archiveObjects(batchOf(records), { prefix: "logs", compression: "gzip" });
    expect(b.map((o) => o.key)).toEqual(a.map((o) => o.key));
    expect(logRecordsOf(parseLines(b[0]?.body as Buffer))).toHaveLength(6);
  });
});

type Sent = { name: string; input: Record<string, unknown> };

function fakeClient(respond: (s: Sent) => unknown = () => ({})) {
  const sent: Sent[] = [];
  const client = {
    async send(cmd: { constructor: { name: string }; input: Record<string, unknown> }) {
      const s = { name: cmd.constructor.name, input: cmd.input };
      sent.push(s);
      const r = respond(s);
      if (r instanceof Error) throw r;
      return r;
    },
    destroy() {},
  };
  return { client: client as unknown as S3Calls, sent };
}

const s3Error = (name: string, status: number) =>
  Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status } });

function exporter(fake: ReturnType<typeof fakeClient>, extra: Record<string, unknown> = {}) {
  const config = s3ConfigSchema.parse({ bucket: "archive", ...extra });
  return new S3Exporter("s3", config, testDeps("/tmp"), { client: () => fake.client });
}

async function caught(p: Promise<unknown>): Promise<SluiceError> {
  try {
    await p;
  } catch (err) {
    return err as SluiceError;
  }
  throw new Error("expected a rejection");
}

describe("S3Exporter", () => {
  it("PUTs each hour's object with its type, metadata and storage class", async () => {
    const fake = fakeClient();
    const e = exporter(fake, { storage_class: "STANDARD_IA" });
    await e.start();
    expect(fake.sent[0]?.name).toBe("HeadBucketCommand");
    const records = makeRecords(3, { firstOffset: 10n });
    (records[2] as PipelineRecord).timeUnixNano = BASE_TIME_NS + 2n * HOUR_NS;
    expect(await e.write(batchOf(records))).toEqual({ failed: [] });
    const puts = fake.sent.filter((s) => s.name === "PutObjectCommand");
    expect(puts.map((p) => p.input.Key)).toEqual([
      "logs/year=2024/month=05/day=01/hour=12/sluice.logs-p0-00000000000000000010.jsonl.gz",
      "logs/year=2024/month=05/day=01/hour=14/sluice.logs-p0-00000000000000000010.jsonl.gz",
    ]);
    expect(puts[0]?.input).toMatchObject({
      Bucket: "archive",
      ContentType: GZIP_TYPE,
      StorageClass: "STANDARD_IA",
      Metadata: { records: "2" },
    });
    expect(puts[0]?.input.ContentEncoding).toBeUndefined();
  });

  it("creates a missing bucket only when told to", async () => {
    const missing = () => fakeClient((s) => (s.name === "HeadBucketCommand" ? s3Error("NotFound", 404) : {}));
    const refused = await caught(exporter(missing()).start());
    expect(refused.code).toBe(ErrorCode.INVALID_CONFIG);
    expect(refused.message).toContain("create_bucket");

    const fake = missing();
    await exporter(fake, { create_bucket: true, region: "eu-central-1" }).start();
    expect(fake.sent[1]).toEqual({
      name: "CreateBucketCommand",
      input: { Bucket: "archive", CreateBucketConfiguration: { LocationConstraint: "eu-central-1" } },
    });
  });

  it("starts when the bucket cannot be checked for lack of ListBucket", async () => {
    const fake = fakeClient((s) => (s.name === "HeadBucketCommand" ? s3Error("Forbidden", 403) : {}));
    await exporter(fake).start();
  });

  it("reports an unreachable store at start as retryable", async () => {
    const fake = fakeClient(() =>
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9000"), { code: "ECONNREFUSED" }),
    );
    const err = await caught(exporter(fake).start());
    expect(err.retryable).toBe(true);
    expect((err as SinkError).sinkCode).toBe(SinkCode.SINK_UNAVAILABLE);
  });

  it("throws retryable when a PUT fails, naming the key", async () => {
    const fake = fakeClient((s) => (s.name === "PutObjectCommand" ? s3Error("SlowDown", 503) : {}));
    const e = exporter(fake);
    await e.start();
    const err = await caught(e.write(batchOf(makeRecords(2))));
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/PUT logs\/year=2024\/.*: SlowDown: SlowDown happened/);
  });

  it("refuses writes after shutdown with a retryable error", async () => {
    const fake = fakeClient();
    const e = exporter(fake);
    await e.start();
    await e.shutdown();
    expect((await caught(e.write(batchOf(makeRecords(1))))).retryable).toBe(true);
  });
});
