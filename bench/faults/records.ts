/** The fault suite's records: unique, stable ids (bench/common/records.ts) and a known destination for each. */
import { isEvent, severityOf } from "../common/records.js";

export { buildRequest, isEvent, seqOfUid, uidOf } from "../common/records.js";

export type Sink = "opensearch" | "clickhouse" | "s3";
export const SINKS: readonly Sink[] = ["opensearch", "clickhouse", "s3"];

/** Mirrors the suite's route rules: events → clickhouse, logs ≥ INFO → opensearch, all → s3. */
export function routedTo(seq: number, sink: Sink): boolean {
  if (sink === "s3") return true;
  if (sink === "clickhouse") return isEvent(seq);
  return !isEvent(seq) && severityOf(seq).number >= 9;
}
