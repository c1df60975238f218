/**
 * Object keys for archives in the Hive partition layout that Athena, Spark,
 * DuckDB and ClickHouse's s3 table function all prune on:
 * prefix/year=YYYY/month=MM/day=DD/hour=HH/<topic>-p<partition>-<firstOffset>.<ext>
 *
 * The name comes from the batch's first log offset, which a replay of the
 * batch keeps, so a replay writes the same keys and overwrites instead of
 * adding copies. Offsets are zero-padded to 20 digits (the width of 2^64)
 * so names sort in offset order.
 */
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { recordTimeUnixNano, utcDate } from "./time.js";

export interface ArchiveKeyParts {
  /** Leading path; "" for none. Slashes at either end are ignored. */
  prefix: string;
  /** Any time inside the hour the object covers. */
  timeUnixNano: bigint;
  topic: string;
  partition: number;
  firstOffset: bigint;
  /** Without the dot, e.g. "jsonl.gz". */
  extension: string;
}

const NS_PER_HOUR = 3_600_000_000_000n;
const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

/**
 * Kafka topic names are [A-Za-z0-9._-] already; anything else (a "/" in an
 * embedded-log topic, say) is percent-encoded so it cannot add path levels.
 */
function safeSegment(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, (c) =>
    Array.from(Buffer.from(c, "utf8"), (b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join(""),
  );
}

export function archiveObjectKey(p: ArchiveKeyParts): string {
  const d = utcDate(p.timeUnixNano);
  const prefix = p.prefix.replace(/^\/+|\/+$/g, "");
  const folder =
    `year=${String(d.getUTCFullYear()).padStart(4, "0")}/month=${pad2(d.getUTCMonth() + 1)}` +
    `/day=${pad2(d.getUTCDate())}/hour=${pad2(d.getUTCHours())}`;
  const name = `${safeSegment(p.topic)}-p${p.partition}-${p.firstOffset.toString().padStart(20, "0")}.${p.extension}`;
  return prefix === "" ? `${folder}/${name}` : `${prefix}/${folder}/${name}`;
}

export interface HourBucket {
  /** Start of the UTC hour, in nanoseconds since the epoch. */
  hourStartUnixNano: bigint;
  /** The bucket's records in log order (offset, then position in the envelope). */
  records: PipelineRecord[];
}

function logOrder(a: PipelineRecord, b: PipelineRecord): number {
  if (a.origin.offset !== b.origin.offset) return a.origin.offset < b.origin.offset ? -1 : 1;
  return a.origin.index - b.origin.index;
}

/**
 * Splits records by the UTC hour of their time (see recordTimeUnixNano),
 * buckets ordered by hour. Within a bucket the records keep log order even
 * if a processor reordered the batch, so an object's content depends only
 * on which records it holds.
 */
export function groupByHour(records: readonly PipelineRecord[]): HourBucket[] {
  const buckets = new Map<bigint, PipelineRecord[]>();
  for (const r of records) {
    const t = recordTimeUnixNano(r);
    const hour = t - (t % NS_PER_HOUR);
    const list = buckets.get(hour);
    if (list === undefined) buckets.set(hour, [r]);
    else list.push(r);
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([hourStartUnixNano, list]) => ({ hourStartUnixNano, records: list.sort(logOrder) }));
}
