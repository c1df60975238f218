/**
 * Drops records that match any drop rule, and, when keep rules are given,
 * records that match none of them. The batch array is compacted in place.
 */
import type { BatchContext, ComponentDeps, Processor } from "../../core/pipeline/component.js";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { BodyText, RecordRule } from "../common/record-rule.js";
import { ProcessorStats } from "../metrics.js";
import type { FilterConfig, FilterRuleConfig } from "./config.js";

/** Reason label for records dropped because no keep rule matched them. */
export const NOT_KEPT = "not_kept";

const KEEP = -1;
const NO_KEEP_RULE = -2;

function compile(rule: FilterRuleConfig): RecordRule {
  return new RecordRule({
    kind: rule.kind,
    severityBelow: rule.severity_below,
    unspecifiedIsBelow: rule.unspecified_is_below,
    attribute: rule.attribute,
    eventName: rule.event_name,
    bodyMatches: rule.body_matches,
  });
}

export class FilterProcessor implements Processor {
  private readonly drop: RecordRule[];
  private readonly dropReasons: string[];
  private readonly dropCounts: number[];
  private readonly keep: RecordRule[] | undefined;
  private readonly bodyText = new BodyText();
  private readonly stats: ProcessorStats;

  constructor(
    readonly name: string,
    config: FilterConfig,
    deps: ComponentDeps,
  ) {
    this.drop = config.drop.map(compile);
    this.dropReasons = config.drop.map((rule, i) => rule.name ?? `drop[${i}]`);
    this.dropCounts = config.drop.map(() => 0);
    this.keep = config.keep?.map(compile);
    this.stats = new ProcessorStats(deps.metrics.registry, name);
  }

  process(records: PipelineRecord[], _ctx: BatchContext): PipelineRecord[] {
    this.stats.processed(records.length);
    const counts = this.dropCounts;
    let notKept = 0;
    let kept = 0;
    for (let i = 0; i < records.length; i++) {
      const r = records[i] as PipelineRecord;
      let verdict: number;
      try {
        verdict = this.verdict(r);
      } catch {
        // A rule that fails on one record (a regex exhausting the engine)
        // leaves that record in the stream.
        verdict = KEEP;
      }
      if (verdict >= 0) {
        counts[verdict] = (counts[verdict] as number) + 1;
        continue;
      }
      if (verdict === NO_KEEP_RULE) {
        notKept++;
        continue;
      }
      records[kept++] = r;
    }
    records.length = kept;
    this.bodyText.clear();
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] === 0) continue;
      this.stats.droppedRecords(this.dropReasons[i] as string, counts[i]);
      counts[i] = 0;
    }
    this.stats.droppedRecords(NOT_KEPT, notKept);
    return records;
  }

  /** Index of the first matching drop rule, else KEEP or NO_KEEP_RULE. */
  private verdict(r: PipelineRecord): number {
    for (let i = 0; i < this.drop.length; i++) {
      if ((this.drop[i] as RecordRule).test(r, this.bodyText)) return i;
    }
    const keep = this.keep;
    if (keep === undefined) return KEEP;
    for (let i = 0; i < keep.length; i++) {
      if ((keep[i] as RecordRule).test(r, this.bodyText)) return KEEP;
    }
    return NO_KEEP_RULE;
  }
}
