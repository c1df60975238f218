/**
 * Attribute conditions shared by filter and route. Values are compared as
 * text so that `equals: 200` matches an int 200, a double 200 and the
 * string "200" alike; arrays, kvlists and bytes never equal or match.
 */
import type { PipelineRecord } from "../../core/pipeline/record.js";
import type { AttributeConditionConfig } from "./config.js";
import { compileRegex } from "./regex.js";
import { recordOrResourceValue, scalarText } from "./values.js";

export class AttributeCondition {
  private readonly key: string;
  private readonly equals: string | undefined;
  private readonly matches: RegExp | undefined;
  private readonly exists: boolean;

  constructor(cfg: AttributeConditionConfig) {
    this.key = cfg.key;
    this.equals = cfg.equals === undefined ? undefined : String(cfg.equals);
    this.matches = cfg.matches === undefined ? undefined : compileRegex(cfg.matches);
    this.exists = cfg.exists ?? true;
  }

  test(r: PipelineRecord): boolean {
    const v = recordOrResourceValue(r, this.key);
    if (v === undefined) return !this.exists && this.equals === undefined && this.matches === undefined;
    if (!this.exists) return false;
    if (this.equals === undefined && this.matches === undefined) return true;
    const text = scalarText(v);
    if (text === undefined) return false;
    if (this.equals !== undefined && text !== this.equals) return false;
    return this.matches === undefined || this.matches.test(text);
  }
}

export function compileConditions(
  cfg: AttributeConditionConfig | AttributeConditionConfig[] | undefined,
): AttributeCondition[] {
  if (cfg === undefined) return [];
  return (Array.isArray(cfg) ? cfg : [cfg]).map((c) => new AttributeCondition(c));
}
