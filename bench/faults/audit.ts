/** Reads every sink back and compares it with what the load client was told was durable (bench/common/audit.ts). */
import { type Audit, audit, IdCounts, auditTable as table } from "../common/audit.js";
import type { LoadStats } from "./load.js";
import { routedTo, SINKS, type Sink, seqOfUid } from "./records.js";

export interface SinkAudit extends Audit {
  sink: Sink;
}

export function auditSink(sink: Sink, run: string, stats: LoadStats, found: Map<string, number>): SinkAudit {
  const counts = IdCounts.fromMap(stats.sent, found, (uid) => seqOfUid(run, uid));
  return { sink, ...audit(sink, stats, counts, (seq) => routedTo(seq, sink)) };
}

export { failedExactlyOnce as failed } from "../common/audit.js";

export function auditTable(audits: SinkAudit[]): string {
  return table(audits, { nameHeader: "sink" });
}

export { SINKS };
