/**
 * Record timestamps as the sinks need them. Every sink places a record in
 * time the same way, so a record lands in the same hour folder of the
 * archive as the hour its warehouse row and search document show.
 */
import type { PipelineRecord } from "../../core/pipeline/record.js";

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;
/**
 * Largest finite int64 nanosecond timestamp (2262-04-11T23:47:16.854775806Z).
 * ClickHouse DateTime64(9) and DuckDB TIMESTAMP_NS are both int64
 * nanoseconds, and DuckDB reserves int64 max for infinity.
 */
export const MAX_INT64_NS = 9_223_372_036_854_775_806n;

/**
 * When the record happened: its own time, else the time the first collector
 * observed it, else the time the gateway received it. OTLP leaves time_unix_nano
 * at 0 when the source did not know it, and 1970 is never the right answer.
 */
export function recordTimeUnixNano(r: PipelineRecord): bigint {
  if (r.timeUnixNano !== 0n) return r.timeUnixNano;
  if (r.observedTimeUnixNano !== 0n) return r.observedTimeUnixNano;
  return r.origin.receiveTimeUnixNano;
}

/**
 * The instant as a Date, to the millisecond. OTLP times are unsigned 64-bit
 * nanoseconds, so they end in 2554 and always print with a four-digit year.
 */
export function utcDate(ns: bigint): Date {
  return new Date(Number(ns / NS_PER_MS));
}

/** The same as utcDate, kept for callers that read calendar fields from it. */
export const utcParts = utcDate;

/** ISO-8601 in UTC with milliseconds, e.g. 2024-05-01T12:00:00.123Z. */
export function isoMillis(ns: bigint): string {
  return utcDate(ns).toISOString();
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

/** 'YYYY-MM-DD hh:mm:ss' in UTC: the text form of ClickHouse DateTime. */
export function dateTimeSeconds(ns: bigint): string {
  const d = utcDate(clampInt64(ns));
  return (
    `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`
  );
}

/** 'YYYY-MM-DD hh:mm:ss.nnnnnnnnn' in UTC: the text form of ClickHouse DateTime64(9). */
export function dateTime64Nanos(ns: bigint): string {
  const clamped = clampInt64(ns);
  return `${dateTimeSeconds(clamped)}.${String(clamped % NS_PER_S).padStart(9, "0")}`;
}

/** Clamps an unsigned OTLP timestamp into the int64 nanosecond range of the warehouse types. */
export function clampInt64(ns: bigint): bigint {
  return ns > MAX_INT64_NS ? MAX_INT64_NS : ns < 0n ? 0n : ns;
}
