/**
 * The objects one batch becomes: one per UTC hour its records fall in,
 * named after the batch's first offset (exporters/common/hive-key.ts) and
 * holding that hour's records as OTLP/JSON lines. A replay of the batch
 * starts at the same offset, so it produces the same keys and its PUTs
 * replace the earlier objects (with the same records, or more) instead of
 * adding copies.
 */
import { gzipSync } from "node:zlib";
import type { ExportBatch } from "../../core/pipeline/component.js";
import { archiveObjectKey, groupByHour } from "../common/hive-key.js";
import { toOtlpJsonLinesText } from "../common/otlp-json.js";

export interface ArchiveObject {
  key: string;
  body: Buffer;
  contentType: string;
  metadata: Record<string, string>;
  records: number;
}

export const NDJSON_TYPE = "application/x-ndjson";
export const GZIP_TYPE = "application/gzip";

export function archiveObjects(
  batch: ExportBatch,
  opts: { prefix: string; compression: "gzip" | "none" },
): ArchiveObject[] {
  const gzip = opts.compression === "gzip";
  return groupByHour(batch.records).map((bucket) => {
    const text = Buffer.from(toOtlpJsonLinesText(bucket.records), "utf8");
    return {
      key: archiveObjectKey({
        prefix: opts.prefix,
        timeUnixNano: bucket.hourStartUnixNano,
        topic: batch.topic,
        partition: batch.partition,
        firstOffset: batch.firstOffset,
        extension: gzip ? "jsonl.gz" : "jsonl",
      }),
      // Level 6 is zlib's default trade-off; archives are written once and read rarely.
      body: gzip ? gzipSync(text, { level: 6 }) : text,
      contentType: gzip ? GZIP_TYPE : NDJSON_TYPE,
      metadata: {
        format: "otlp-json-lines",
        // Header values are ASCII only.
        topic: encodeURIComponent(batch.topic),
        partition: String(batch.partition),
        "first-offset": batch.firstOffset.toString(),
        "last-offset": batch.lastOffset.toString(),
        records: String(bucket.records.length),
      },
      records: bucket.records.length,
    };
  });
}
