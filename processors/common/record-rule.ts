/**
 * The record tests filter and route rules share, compiled once. Cheap
 * field checks run first and the body regex last, so most records are
 * decided without touching the body.
 */
import type { PipelineRecord, RecordKind } from "../../core/pipeline/record.js";
import { type AttributeCondition, compileConditions } from "./condition.js";
import type { AttributeConditionConfig } from "./config.js";
import { compileRegex, compileTextMatcher, type TextMatcher } from "./regex.js";
import { valueToJsonText } from "./values.js";

export interface RecordRuleConfig {
  kind?: RecordKind | undefined;
  /** Matches records with severity_number below this (0 only with unspecifiedIsBelow). */
  severityBelow?: number | undefined;
  unspecifiedIsBelow?: boolean | undefined;
  /** Matches records with severity_number at or above this. */
  severityAtLeast?: number | undefined;
  attribute?: AttributeConditionConfig | AttributeConditionConfig[] | undefined;
  eventName?: string | undefined;
  bodyMatches?: string | undefined;
}

/**
 * The body as text for matching, computed at most once per record even
 * when several rules look at it.
 */
export class BodyText {
  private record: PipelineRecord | undefined;
  private text: string | undefined;

  get(r: PipelineRecord): string | undefined {
    if (r !== this.record) {
      this.record = r;
      const body = r.body;
      this.text = typeof body === "string" ? body : body === null ? undefined : valueToJsonText(body);
    }
    return this.text;
  }

  clear(): void {
    this.record = undefined;
    this.text = undefined;
  }
}

export class RecordRule {
  private readonly kind: RecordKind | undefined;
  private readonly severityBelow: number;
  private readonly unspecifiedIsBelow: boolean;
  private readonly severityAtLeast: number;
  private readonly attributes: AttributeCondition[];
  private readonly eventName: TextMatcher | undefined;
  private readonly body: RegExp | undefined;

  constructor(cfg: RecordRuleConfig) {
    this.kind = cfg.kind;
    this.severityBelow = cfg.severityBelow ?? 0;
    this.unspecifiedIsBelow = cfg.unspecifiedIsBelow ?? false;
    this.severityAtLeast = cfg.severityAtLeast ?? 0;
    this.attributes = compileConditions(cfg.attribute);
    this.eventName = cfg.eventName === undefined ? undefined : compileTextMatcher(cfg.eventName);
    this.body = cfg.bodyMatches === undefined ? undefined : compileRegex(cfg.bodyMatches);
  }

  test(r: PipelineRecord, bodyText: BodyText): boolean {
    if (this.kind !== undefined && r.kind !== this.kind) return false;
    if (this.severityBelow > 0) {
      const s = r.severityNumber;
      if (s === 0 ? !this.unspecifiedIsBelow : s >= this.severityBelow) return false;
    }
    if (this.severityAtLeast > 0 && r.severityNumber < this.severityAtLeast) return false;
    if (this.eventName !== undefined && !this.eventName.test(r.eventName)) return false;
    for (let i = 0; i < this.attributes.length; i++) {
      if (!(this.attributes[i] as AttributeCondition).test(r)) return false;
    }
    if (this.body !== undefined) {
      const text = bodyText.get(r);
      if (text === undefined || !this.body.test(text)) return false;
    }
    return true;
  }
}
