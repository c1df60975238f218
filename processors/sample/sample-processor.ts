/**
 * Keeps a fraction `rate` of records, decided by a hash of each record's
 * key alone, so every record of one trace (or one attribute value) gets
 * the same decision in every process, on every replay and after restarts.
 */
import type { BatchContext, ComponentDeps, Processor } from "../../core/pipeline/component.js";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { recordOrResourceValue, scalarText } from "../common/values.js";
import { ProcessorStats } from "../metrics.js";
import type { SampleConfig } from "./config.js";
import { hashKey } from "./hash.js";

export const SAMPLED = "sampled";

/** Whether a key is kept at a threshold of rate × 2^32. */
export function keepKey(key: string, threshold: number, seed: number): boolean {
  return hashKey(key, seed) < threshold;
}

export function sampleThreshold(rate: number): number {
  return Math.floor(rate * 2 ** 32);
}

export class SampleProcessor implements Processor {
  private readonly threshold: number;
  private readonly seed: number;
  private readonly keyKind: "trace_id" | "event_id" | "attribute";
  private readonly attribute: string;
  private readonly keepSeverity: number;
  private readonly sampleEvents: boolean;
  private readonly stats: ProcessorStats;

  constructor(
    readonly name: string,
    config: SampleConfig,
    deps: ComponentDeps,
  ) {
    this.threshold = sampleThreshold(config.rate);
    this.seed = config.hash_seed;
    if (config.key.startsWith("attribute:")) {
      this.keyKind = "attribute";
      this.attribute = config.key.slice("attribute:".length);
    } else {
      this.keyKind = config.key as "trace_id" | "event_id";
      this.attribute = "";
    }
    this.keepSeverity = config.always_keep_severity_at_least ?? Number.POSITIVE_INFINITY;
    this.sampleEvents = config.sample_events;
    this.stats = new ProcessorStats(deps.metrics.registry, name);
  }

  /** The text a record's decision is made on; records without one fall back to their event id. */
  keyOf(r: PipelineRecord): string {
    let key = "";
    if (this.keyKind === "trace_id") key = r.traceId;
    else if (this.keyKind === "attribute") key = scalarText(recordOrResourceValue(r, this.attribute)) ?? "";
    return key === "" ? r.eventId : key;
  }

  process(records: PipelineRecord[], _ctx: BatchContext): PipelineRecord[] {
    this.stats.processed(records.length);
    let kept = 0;
    for (let i = 0; i < records.length; i++) {
      const r = records[i] as PipelineRecord;
      if (
        r.severityNumber >= this.keepSeverity ||
        (r.kind === "events" && !this.sampleEvents) ||
        hashKey(this.keyOf(r), this.seed) < this.threshold
      ) {
        records[kept++] = r;
      }
    }
    const dropped = records.length - kept;
    records.length = kept;
    this.stats.droppedRecords(SAMPLED, dropped);
    return records;
  }
}
