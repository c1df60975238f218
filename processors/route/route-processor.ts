/**
 * Sets record.routes to the union of the exporters of every rule the
 * record matches (in order of first appearance), or to default_exporters
 * when none matches. Records that end up with no exporter leave the batch
 * unless keep_unrouted is set.
 *
 * The route arrays are computed once per combination of matching rules and
 * shared by all records with that combination; they are frozen so a
 * consumer that changes one in place fails loudly instead of rerouting
 * other records. Replace record.routes rather than editing it.
 */
import type { BatchContext, ComponentDeps, Processor } from "../../core/pipeline/component.js";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { BodyText, RecordRule } from "../common/record-rule.js";
import { ProcessorStats } from "../metrics.js";
import type { RouteConfig } from "./config.js";

export const UNROUTED = "unrouted";

/** Rule sets up to this size are cached by bit mask; larger ones build a route list per record. */
const MASK_RULES = 30;

/** Exporter names a route config can send to, for checking them against the configured exporters. */
export function routeTargets(config: {
  rules: readonly { exporters: readonly string[] }[];
  default_exporters: readonly string[];
}): string[] {
  const seen = new Set<string>();
  for (const rule of config.rules) for (const e of rule.exporters) seen.add(e);
  for (const e of config.default_exporters) seen.add(e);
  return [...seen];
}

function union(lists: readonly (readonly string[])[]): string[] {
  return Object.freeze([...new Set(lists.flat())]) as string[];
}

export class RouteProcessor implements Processor {
  private readonly rules: RecordRule[];
  private readonly exporters: string[][];
  private readonly defaults: string[];
  private readonly keepUnrouted: boolean;
  private readonly byMask = new Map<number, string[]>();
  private readonly bodyText = new BodyText();
  private readonly stats: ProcessorStats;

  constructor(
    readonly name: string,
    config: RouteConfig,
    deps: ComponentDeps,
  ) {
    this.rules = config.rules.map(
      (rule) =>
        new RecordRule({
          kind: rule.when.kind,
          severityAtLeast: rule.when.severity_at_least,
          attribute: rule.when.attribute,
          eventName: rule.when.event_name,
        }),
    );
    this.exporters = config.rules.map((rule) => rule.exporters);
    this.defaults = union([config.default_exporters]);
    this.keepUnrouted = config.keep_unrouted;
    this.stats = new ProcessorStats(deps.metrics.registry, name);
  }

  process(records: PipelineRecord[], _ctx: BatchContext): PipelineRecord[] {
    this.stats.processed(records.length);
    let kept = 0;
    for (let i = 0; i < records.length; i++) {
      const r = records[i] as PipelineRecord;
      let routes: string[];
      try {
        routes = this.routesFor(r);
      } catch {
        // A rule that fails on one record leaves it to the default route.
        routes = this.defaults;
      }
      r.routes = routes;
      if (routes.length > 0 || this.keepUnrouted) records[kept++] = r;
    }
    const dropped = records.length - kept;
    records.length = kept;
    this.stats.droppedRecords(UNROUTED, dropped);
    return records;
  }

  private routesFor(r: PipelineRecord): string[] {
    const rules = this.rules;
    if (rules.length > MASK_RULES) {
      const lists: string[][] = [];
      for (let i = 0; i < rules.length; i++) {
        if ((rules[i] as RecordRule).test(r, this.bodyText)) lists.push(this.exporters[i] as string[]);
      }
      return lists.length === 0 ? this.defaults : union(lists);
    }
    let mask = 0;
    for (let i = 0; i < rules.length; i++) {
      if ((rules[i] as RecordRule).test(r, this.bodyText)) mask |= 1 << i;
    }
    if (mask === 0) return this.defaults;
    let routes = this.byMask.get(mask);
    if (routes === undefined) {
      routes = union(this.exporters.filter((_, i) => (mask & (1 << i)) !== 0));
      this.byMask.set(mask, routes);
    }
    return routes;
  }
}
