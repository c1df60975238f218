/**
 * The s3 exporter against a real S3-compatible server: a batch, its exact
 * replay and a superset replay leave one object per hour holding each
 * record exactly once, every field intact after gunzip and parse.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, type SluiceError } from "../../core/errors.js";
import type { Exporter } from "../../core/pipeline/component.js";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { BASE_TIME_NS, batchOf, makeRecords, testDeps } from "../../exporters/common/test-support.js";
import { s3ExporterFactory } from "../../exporters/s3/index.js";
import { S3Server } from "../../scripts/services/s3.js";

const SETUP_TIMEOUT_MS = 600_000;
const HOUR_NS = 3_600_000_000_000n;

interface OtlpLine {
  resourceLogs: Array<{
    resource: { attributes?: Array<{ key: string; value: Record<string, unknown> }> };
    scopeLogs: Array<{ scope: Record<string, unknown>; logRecords: Array<Record<string, unknown>> }>;
  }>;
}

describe("s3 exporter on a real server", () => {
  let dataDir: string;
  let server: S3Server;
  let s3: S3Client;
  const exporters: Exporter[] = [];

  function config(extra: Record<string, unknown>) {
    return s3ExporterFactory.configSchema.parse({
      bucket: "sluice-archive",
      endpoint: server.endpoint,
      region: server.region,
      force_path_style: true,
      credentials: { access_key_id: server.accessKeyId, secret_access_key: server.secretAccessKey },
      ...extra,
    });
  }

  async function newExporter(extra: Record<string, unknown>): Promise<Exporter> {
    const e = s3ExporterFactory.create("s3", config(extra), testDeps(dataDir));
    exporters.push(e);
    await e.start();
    return e;
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "sluice-exp-s3-"));
    server = new S3Server({ dataDir: join(dataDir, "server") });
    await server.start();
    s3 = new S3Client({
      endpoint: server.endpoint,
      region: server.region,
      forcePathStyle: true,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    });
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    for (const e of exporters) await e.shutdown();
    s3?.destroy();
    await server?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 60_000);

  it("refuses a missing bucket at start unless told to create it", async () => {
    const e = s3ExporterFactory.create("s3", config({ bucket: "no-such-bucket" }), testDeps(dataDir));
    const err = (await e.start().catch((x: unknown) => x)) as SluiceError;
    expect(err.code).toBe(ErrorCode.INVALID_CONFIG);
    expect(err.retryable).toBe(false);
    await e.shutdown();
  });

  it("keeps one copy of each record across an exact replay and a superset replay", async () => {
    const e = await newExporter({ create_bucket: true });
    const records = makeRecords(15, { firstOffset: 4200n });
    for (const r of records.slice(12)) r.timeUnixNano += HOUR_NS;
    const first = batchOf(records.slice(0, 10));
    expect((await e.write(first)).failed).toEqual([]);
    expect((await e.write(first)).failed).toEqual([]);
    expect((await e.write(batchOf(records))).failed).toEqual([]);

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: "sluice-archive", Prefix: "logs/" }));
    const keys = (listed.Contents ?? []).map((o) => o.Key).sort();
    expect(keys).toEqual([
      "logs/year=2024/month=05/day=01/hour=12/sluice.logs-p0-00000000000000004200.jsonl.gz",
      "logs/year=2024/month=05/day=01/hour=13/sluice.logs-p0-00000000000000004200.jsonl.gz",
    ]);

    const bodies: string[] = [];
    const byBody = new Map<string, Record<string, unknown>>();
    let resource: OtlpLine["resourceLogs"][number]["resource"] | undefined;
    for (const key of keys) {
      const got = await s3.send(new GetObjectCommand({ Bucket: "sluice-archive", Key: key }));
      expect(got.ContentType).toBe("application/gzip");
      expect(got.Metadata?.format).toBe("otlp-json-lines");
      expect(got.Metadata?.["first-offset"]).toBe("4200");
      const text = gunzipSync(
        Buffer.from(
          await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
        ),
      ).toString("utf8");
      for (const line of text.trimEnd().split("\n")) {
        const parsed = JSON.parse(line) as OtlpLine;
        for (const rl of parsed.resourceLogs) {
          resource = rl.resource;
          for (const sl of rl.scopeLogs) {
            for (const lr of sl.logRecords) {
              const body = (lr.body as { stringValue: string }).stringValue;
              bodies.push(body);
              byBody.set(body, lr);
            }
          }
        }
      }
    }
    expect(bodies.sort()).toEqual(records.map((r) => r.body as string).sort());

    const r0 = records[0] as PipelineRecord;
    expect(byBody.get(r0.body as string)).toEqual({
      timeUnixNano: BASE_TIME_NS.toString(),
      observedTimeUnixNano: r0.observedTimeUnixNano.toString(),
      severityNumber: 9,
      severityText: "INFO",
      body: { stringValue: "request 4200 handled" },
      attributes: [
        { key: "http.method", value: { stringValue: "GET" } },
        { key: "http.status_code", value: { intValue: "200" } },
        { key: "user.id", value: { stringValue: "u0" } },
      ],
    });
    expect(resource?.attributes).toEqual([
      { key: "service.name", value: { stringValue: "checkout" } },
      { key: "host.name", value: { stringValue: "node-1" } },
    ]);
  });
});
