/**
 * Drops records whose event id was already seen in the same partition
 * recently (the last window_size ids, optionally only within ttl) at a
 * different log position: a client retry or a producer sending twice. The
 * same record read again after a replay from the last commit passes. The
 * window lives in memory; sinks still deduplicate on eventId for what it
 * cannot see (restarts, partitions moving between consumers, ids older
 * than the window).
 */
import type { BatchContext, ComponentDeps, Processor } from "../../core/pipeline/component.js";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { ProcessorStats } from "../metrics.js";
import type { DedupConfig } from "./config.js";
import { IdWindow } from "./window.js";

export const DUPLICATE = "duplicate";

export class DedupProcessor implements Processor {
  private readonly windows = new Map<string, IdWindow>();
  private readonly windowSize: number;
  private readonly ttlMs: number | null;
  private readonly stats: ProcessorStats;

  constructor(
    readonly name: string,
    config: DedupConfig,
    deps: ComponentDeps,
    private readonly now: () => number = Date.now,
  ) {
    this.windowSize = config.window_size;
    this.ttlMs = config.ttl;
    this.stats = new ProcessorStats(deps.metrics.registry, name);
  }

  /** The window of one partition, for tests and introspection. */
  window(topic: string, partition: number): IdWindow | undefined {
    return this.windows.get(`${topic}\u0000${partition}`);
  }

  process(records: PipelineRecord[], ctx: BatchContext): PipelineRecord[] {
    this.stats.processed(records.length);
    if (records.length === 0) return records;
    const key = `${ctx.topic}\u0000${ctx.partition}`;
    let window = this.windows.get(key);
    if (!window) {
      window = new IdWindow(this.windowSize, this.ttlMs);
      this.windows.set(key, window);
    }
    const now = this.ttlMs === null ? 0 : this.now();
    window.expire(now);
    let kept = 0;
    for (let i = 0; i < records.length; i++) {
      const r = records[i] as PipelineRecord;
      // Without an id there is nothing to compare; such a record is always new.
      if (r.eventId !== "" && window.isDuplicate(r.eventId, r.origin.offset, r.origin.index, now)) continue;
      records[kept++] = r;
    }
    const dropped = records.length - kept;
    records.length = kept;
    this.stats.droppedRecords(DUPLICATE, dropped);
    return records;
  }
}
