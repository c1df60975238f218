/** Reads every sink back and compares it with what the load client was told was durable. */
import type { LoadStats } from "./load.js";
import { routedTo, SINKS, type Sink, seqOfUid } from "./records.js";

export interface SinkAudit {
  sink: Sink;
  routedAcked: number;
  foundUnique: number;
  missing: number;
  /** Ids present more than once, and the surplus copies they add up to. */
  duplicatedIds: number;
  surplusCopies: number;
  extraUnacked: number;
  /** Ids this sink should never have received: another run's, or routed elsewhere. */
  misrouted: number;
  /** Duplicated ids whose request the client had to resend, i.e. ones the dedup window should have caught. */
  duplicatedResent: number;
  sampleMissing: number[];
  sampleDuplicated: number[];
}

export function auditSink(sink: Sink, run: string, stats: LoadStats, found: Map<string, number>): SinkAudit {
  const a: SinkAudit = {
    sink,
    routedAcked: 0,
    foundUnique: found.size,
    missing: 0,
    duplicatedIds: 0,
    surplusCopies: 0,
    extraUnacked: 0,
    misrouted: 0,
    duplicatedResent: 0,
    sampleMissing: [],
    sampleDuplicated: [],
  };
  const present = new Uint8Array(stats.sent);
  for (const [uid, n] of found) {
    const seq = seqOfUid(run, uid);
    if (seq === undefined || seq >= stats.sent || !routedTo(seq, sink)) {
      a.misrouted++;
      continue;
    }
    present[seq] = 1;
    if (n > 1) {
      a.duplicatedIds++;
      a.surplusCopies += n - 1;
      if (stats.resent[seq]) a.duplicatedResent++;
      if (a.sampleDuplicated.length < 10) a.sampleDuplicated.push(seq);
    }
    if (!stats.acked[seq]) a.extraUnacked++;
  }
  for (let seq = 0; seq < stats.sent; seq++) {
    if (!stats.acked[seq] || !routedTo(seq, sink)) continue;
    a.routedAcked++;
    if (!present[seq]) {
      a.missing++;
      if (a.sampleMissing.length < 10) a.sampleMissing.push(seq);
    }
  }
  return a;
}

export function failed(a: SinkAudit): boolean {
  return a.missing > 0 || a.duplicatedIds > 0 || a.misrouted > 0;
}

export function auditTable(audits: SinkAudit[]): string {
  const header = [
    "sink",
    "routed acked",
    "found unique",
    "missing",
    "duplicated",
    "extra-unacked",
    "misrouted",
    "verdict",
  ];
  const rows = audits.map((a) => [
    a.sink,
    String(a.routedAcked),
    String(a.foundUnique),
    String(a.missing),
    a.duplicatedIds === 0 ? "0" : `${a.duplicatedIds} ids (+${a.surplusCopies} copies)`,
    String(a.extraUnacked),
    String(a.misrouted),
    failed(a) ? "FAIL" : "ok",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

export { SINKS };
