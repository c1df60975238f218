/** The per-setup table and the audit of what each sink holds after a drain. */
import type { LoadStats } from "../faults/load.js";
import type { LatencySummary } from "./latency.js";
import { seqOfRecordId } from "./records.js";
import type { Holdings } from "./sinks.js";

export interface Check {
  /** Records the gateway acknowledged during the preload. */
  expected: number;
  /** Distinct preloaded records found in the sink. */
  found: number;
  missing: number;
  /** Surplus copies of records found more than once. */
  duplicates: number;
  /** Records found that the gateway never acknowledged (a request that failed after the append). */
  unacknowledged: number;
  ok: boolean;
  how: string;
}

export function auditHoldings(h: Holdings, run: string, stats: LoadStats, expected: number): Check {
  if (h.kind === "counts") {
    const missing = Math.max(0, expected - h.distinct);
    const duplicates = h.rows - h.distinct;
    return {
      expected,
      found: h.distinct,
      missing,
      duplicates,
      unacknowledged: Math.max(0, h.distinct - expected),
      ok: missing === 0 && duplicates === 0,
      how: "count(*) and count(DISTINCT EventId) through /api/sql",
    };
  }
  let found = 0;
  let duplicates = 0;
  let unacknowledged = 0;
  let presentAcked = 0;
  for (const [id, n] of h.counts) {
    const seq = seqOfRecordId(run, id);
    if (seq === undefined) continue;
    found++;
    if (n > 1) duplicates += n - 1;
    if (seq < stats.sent && stats.acked[seq]) presentAcked++;
    else unacknowledged++;
  }
  const missing = expected - presentAcked;
  return {
    expected,
    found,
    missing,
    duplicates,
    unacknowledged,
    ok: missing === 0 && duplicates === 0,
    how: "every event id read back",
  };
}

export function checkText(c: Check | undefined): string {
  if (!c) return "-";
  if (c.ok) return "ok";
  const parts: string[] = [];
  if (c.missing) parts.push(`${c.missing} missing`);
  if (c.duplicates) parts.push(`${c.duplicates} dup`);
  return parts.join(", ");
}

export interface Row {
  sink: string;
  /** "baseline", "alone" (one sink in the processor) or "parallel" (every sink of the setup at once). */
  mode: "baseline" | "alone" | "parallel" | "all";
  records?: number;
  startupS?: number;
  windowS?: number;
  recordsPerS?: number;
  ratio?: number;
  cpuSPerMRecords?: number;
  peakRssMiB?: number;
  /** CPU and RSS are the whole processor's, shared by every sink draining in it. */
  shared?: boolean;
  latency?: LatencySummary;
  check?: Check;
  written?: number;
  deadLettered?: number;
  retries?: number;
  short?: boolean;
}

const fix = (v: number | undefined, digits: number) => (v === undefined ? "-" : v.toFixed(digits));
const group = (v: number | undefined) =>
  v === undefined ? "-" : Math.round(v).toLocaleString("en-US").replaceAll(",", " ");

export function table(rows: Row[]): string {
  const header = [
    "sink",
    "records",
    "start-up s",
    "drain s",
    "records/s",
    "× nop",
    "p50 ms",
    "p99 ms",
    "max ms",
    "CPU s/M",
    "peak RSS MiB",
    "check",
  ];
  const body = rows.map((r) => {
    const star = r.shared ? "*" : "";
    return [
      r.mode === "all" ? r.sink : r.sink + (r.short ? " (short)" : ""),
      group(r.records),
      fix(r.startupS, 1),
      fix(r.windowS, 2),
      group(r.recordsPerS),
      r.ratio === undefined ? "-" : `${r.ratio.toFixed(2)}×`,
      fix(r.latency?.p50Ms, 0),
      fix(r.latency?.p99Ms, 0),
      fix(r.latency?.maxMs, 0),
      r.cpuSPerMRecords === undefined ? "-" : `${r.cpuSPerMRecords.toFixed(2)}${star}`,
      r.peakRssMiB === undefined ? "-" : `${r.peakRssMiB.toFixed(0)}${star}`,
      r.latency && r.latency.missing > 0
        ? `${checkText(r.check)}; ${r.latency.missing} probes unseen`
        : checkText(r.check),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? "").length)));
  const right = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (right.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join(" | ")} |`;
  return [
    line(header),
    `|${widths.map((w, i) => (right.has(i) ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`,
    ...body.map(line),
  ].join("\n");
}
