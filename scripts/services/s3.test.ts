import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Server } from "./s3.js";

// A cold cache compiles the gateway with `go install` first, which takes minutes on 2 cores.
const SETUP_TIMEOUT_MS = 900_000;
const TEST_TIMEOUT_MS = 120_000;
const BUCKET = "sluice-archive";
const KEY = "logs/year=2026/month=11/day=26/hour=12/p0-000000000000.jsonl.gz";

function client(server: S3Server): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  });
}

async function getText(s3: S3Client, key: string): Promise<{ body: string; contentType?: string }> {
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return { body: (await got.Body?.transformToString()) ?? "", contentType: got.ContentType };
}

describe("S3Server", () => {
  let dataDir: string;
  let server: S3Server;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "sluice-s3-"));
    server = new S3Server({ dataDir });
    await server.start();
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await server?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 60_000);

  it(
    "stores Hive-style keys, overwrites, lists by prefix, and keeps objects across a restart",
    async () => {
      expect(server.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(server.region).toBe("us-east-1");
      const firstPid = server.pid;
      const s3 = client(server);

      await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
      const first = await s3.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: "first\n", ContentType: "application/gzip" }),
      );
      const second = await s3.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: KEY,
          Body: "second, longer\n",
          ContentType: "application/gzip",
          Metadata: { "sluice-last-offset": "41" },
        }),
      );
      expect(second.ETag).not.toBe(first.ETag);
      await s3.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: "logs/year=2026/month=11/day=26/hour=13/p0-000000000042.jsonl.gz",
          Body: "next hour\n",
        }),
      );

      const listed = await s3.send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "logs/year=2026/month=11/day=26/hour=12/" }),
      );
      expect(listed.KeyCount).toBe(1);
      expect(listed.Contents?.map((o) => [o.Key, o.Size])).toEqual([[KEY, "second, longer\n".length]]);
      const hours = await s3.send(
        new ListObjectsV2Command({
          Bucket: BUCKET,
          Prefix: "logs/year=2026/month=11/day=26/",
          Delimiter: "/",
        }),
      );
      expect(hours.CommonPrefixes?.map((p) => p.Prefix)).toEqual([
        "logs/year=2026/month=11/day=26/hour=12/",
        "logs/year=2026/month=11/day=26/hour=13/",
      ]);

      expect(await getText(s3, KEY)).toEqual({ body: "second, longer\n", contentType: "application/gzip" });
      const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: KEY }));
      expect(head.Metadata).toEqual({ "sluice-last-offset": "41" });

      // Conditional create: what an archive writer uses to never replace a finished file.
      const conflict = await s3
        .send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: "x", IfNoneMatch: "*" }))
        .catch((e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode);
      expect(conflict).toBe(412);
      s3.destroy();

      const endpoint = server.endpoint;
      await server.restart();
      expect(server.endpoint).toBe(endpoint);
      expect(server.pid).not.toBe(firstPid);

      const again = client(server);
      const after = await again.send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "logs/year=2026/month=11/day=26/hour=12/" }),
      );
      expect(after.Contents?.map((o) => o.Key)).toEqual([KEY]);
      expect((await getText(again, KEY)).body).toBe("second, longer\n");
      again.destroy();
    },
    TEST_TIMEOUT_MS,
  );
});
