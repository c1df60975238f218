/** Reads back what the real sinks hold (OpenSearch, ClickHouse, S3), as event-id counts. */
import { gunzipSync } from "node:zlib";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { createClient } from "@clickhouse/client";
import { Client as OpenSearchClient } from "@opensearch-project/opensearch";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { countIds, recordsFromOtlpJsonLines } from "./embedded-sinks.js";

/** _id counts of every document in indices matching the pattern (the index is refreshed first). */
export async function openSearchIds(url: string, pattern: string): Promise<Map<string, number>> {
  const client = new OpenSearchClient({ node: url });
  try {
    await client.indices.refresh({ index: pattern, allow_no_indices: true, expand_wildcards: "all" });
    const ids: string[] = [];
    let res = await client.search({
      index: pattern,
      scroll: "1m",
      size: 1000,
      body: { query: { match_all: {} }, _source: false },
      allow_no_indices: true,
      expand_wildcards: "all",
    } as never);
    for (;;) {
      const hits = (res.body as { hits: { hits: { _id: string }[] } }).hits.hits;
      if (hits.length === 0) break;
      for (const h of hits) ids.push(h._id);
      const scrollId = (res.body as { _scroll_id?: string })._scroll_id;
      if (!scrollId) break;
      res = await client.scroll({ scroll_id: scrollId, scroll: "1m" } as never);
    }
    return countIds(ids);
  } finally {
    await client.close();
  }
}

/** EventId counts in a ClickHouse table, read with FINAL so merged duplicates count once, as queries see them. */
export async function clickHouseIds(url: string, database: string, table = "otel_logs", final = true) {
  const client = createClient({ url, database });
  try {
    const rs = await client.query({
      query: `SELECT EventId AS id, count() AS n FROM ${database}.${table} ${final ? "FINAL" : ""} GROUP BY EventId`,
      format: "JSONEachRow",
    });
    const rows = (await rs.json()) as { id: string; n: string | number }[];
    return new Map(rows.map((r) => [r.id, Number(r.n)]));
  } finally {
    await client.close();
  }
}

export interface S3Target {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  prefix: string;
}

/** Records in every archive object under the prefix. */
export async function s3Records(t: S3Target): Promise<{ record: PipelineRecord; key: string }[]> {
  const s3 = new S3Client({
    endpoint: t.endpoint,
    region: t.region,
    forcePathStyle: true,
    credentials: { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey },
  });
  const out: { record: PipelineRecord; key: string }[] = [];
  try {
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: t.bucket, Prefix: `${t.prefix}/`, ContinuationToken: token }),
      );
      for (const obj of page.Contents ?? []) {
        const key = obj.Key as string;
        const got = await s3.send(new GetObjectCommand({ Bucket: t.bucket, Key: key }));
        const raw = Buffer.from(
          await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
        );
        const text = (key.endsWith(".gz") && raw[0] === 0x1f ? gunzipSync(raw) : raw).toString("utf8");
        for (const record of recordsFromOtlpJsonLines(text)) out.push({ record, key });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } finally {
    s3.destroy();
  }
  return out;
}
