/**
 * Parses text (the body, or one attribute) into record attributes, and
 * lifts severity, timestamp and optionally the message out of the result.
 * A record whose text does not parse is left exactly as it was.
 */
import type { BatchContext, ComponentDeps, Processor } from "../../core/pipeline/component.js";
import type { PipelineRecord, Value } from "../../core/pipeline/record.js";
import { parseJsonObjectInto } from "../common/json.js";
import { compileRegex } from "../common/regex.js";
import {
  numericLevel,
  severityFromText,
  syslogSeverityName,
  syslogSeverityNumber,
} from "../common/severity.js";
import { ownValue, setAttribute } from "../common/values.js";
import { ProcessorStats } from "../metrics.js";
import { parseCombined } from "./access-log.js";
import { type ParseConfig, type ParseFormat, parseOffset } from "./config.js";
import { FieldBuffer } from "./fields.js";
import { parseLogfmt } from "./logfmt.js";
import { parseRfc3164, parseRfc5424 } from "./syslog.js";
import { parseTimestamp, type TimeContext } from "./timestamp.js";

export const DEFAULT_SEVERITY_KEYS = ["level", "severity", "lvl", "loglevel"];
export const DEFAULT_TIMESTAMP_KEYS = ["time", "timestamp", "ts", "@timestamp"];
export const PARSE_ERROR_ATTRIBUTE = "parse.error";

/** Prefixed keys are cached up to this many distinct keys, so random JSON keys can't grow it unbounded. */
const PREFIX_CACHE_LIMIT = 4096;

/** What `read` reports for valid input that is not something to parse (a JSON array, say). */
const SKIP = null;

function rankMap(keys: string[]): Map<string, number> {
  return new Map(keys.map((k, i) => [k, i]));
}

export class ParseProcessor implements Processor {
  private readonly format: ParseFormat;
  private readonly sourceKey: string | undefined;
  private readonly regex: RegExp | undefined;
  private readonly prefix: string;
  private readonly prefixed = new Map<string, string>();
  private readonly severityKeys: Map<string, number>;
  private readonly timestampKeys: Map<string, number>;
  private readonly overwriteSeverity: boolean;
  private readonly overwriteTimestamp: boolean;
  private readonly bodyFrom: string | undefined;
  private readonly markErrors: boolean;
  private readonly syslog: boolean;
  private readonly fields: FieldBuffer;
  private readonly time: TimeContext;
  private readonly stats: ProcessorStats;

  constructor(
    readonly name: string,
    config: ParseConfig,
    deps: ComponentDeps,
  ) {
    this.format = config.format;
    this.sourceKey = config.source === "body" ? undefined : config.source.slice("attributes.".length);
    this.regex =
      config.format === "regex" && config.pattern !== undefined
        ? compileRegex(config.pattern, "", (source) => `^(?:${source})$`)
        : undefined;
    this.prefix = config.prefix;
    this.severityKeys = rankMap(config.severity_from ? [config.severity_from] : DEFAULT_SEVERITY_KEYS);
    this.timestampKeys = rankMap(config.timestamp_from ? [config.timestamp_from] : DEFAULT_TIMESTAMP_KEYS);
    this.overwriteSeverity = config.overwrite_severity;
    this.overwriteTimestamp = config.overwrite_timestamp;
    this.bodyFrom = config.keep_original_body ? undefined : config.body_from;
    this.markErrors = config.mark_errors;
    this.syslog = config.format === "syslog_rfc5424" || config.format === "syslog_rfc3164";
    this.fields = new FieldBuffer(config.typed);
    this.time = { offsetMinutes: parseOffset(config.timezone) ?? 0, referenceNs: 0n };
    this.stats = new ProcessorStats(deps.metrics.registry, name);
  }

  process(records: PipelineRecord[], _ctx: BatchContext): PipelineRecord[] {
    this.stats.processed(records.length);
    for (let i = 0; i < records.length; i++) this.parseRecord(records[i] as PipelineRecord);
    this.fields.release();
    return records;
  }

  private parseRecord(r: PipelineRecord): void {
    const source = this.sourceKey === undefined ? r.body : ownValue(r.attributes, this.sourceKey);
    if (typeof source !== "string") return;
    this.fields.reset();
    let outcome: string | null | undefined;
    try {
      outcome = this.read(source);
    } catch {
      // A pattern can still exhaust the regex engine on hostile input; the
      // record stays as it is rather than failing the batch.
      outcome = "parse failed";
    }
    if (outcome === SKIP) return;
    if (outcome !== undefined) {
      if (this.markErrors) setAttribute(r.attributes, PARSE_ERROR_ATTRIBUTE, outcome);
      return;
    }
    this.commit(r);
  }

  /** Fills this.fields; undefined on success, SKIP, or a short error reason. */
  private read(input: string): string | null | undefined {
    let text = input;
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (this.format === "json") {
      const outcome = parseJsonObjectInto(text, this.fields);
      return outcome === null ? SKIP : outcome === undefined ? undefined : "invalid json";
    }
    // File tailers often keep the line terminator; no text format wants it.
    if (text.charCodeAt(text.length - 1) === 0x0a) {
      text = text.slice(0, text.charCodeAt(text.length - 2) === 0x0d ? -2 : -1);
    }
    switch (this.format) {
      case "logfmt":
        return parseLogfmt(text, this.fields);
      case "regex":
        return this.readRegex(text);
      case "nginx_combined":
      case "apache_combined":
        return parseCombined(text, this.fields);
      case "syslog_rfc5424":
        return parseRfc5424(text, this.fields);
      case "syslog_rfc3164":
        return parseRfc3164(text, this.fields);
      default:
        return "unsupported format";
    }
  }

  private readRegex(text: string): string | undefined {
    const m = (this.regex as RegExp).exec(text);
    const groups = m?.groups;
    if (!groups) return "no match";
    for (const key in groups) {
      const v = groups[key];
      if (v !== undefined) this.fields.addText(key, v);
    }
    return undefined;
  }

  private attributeKey(key: string): string {
    if (this.prefix === "") return key;
    let full = this.prefixed.get(key);
    if (full === undefined) {
      full = this.prefix + key;
      if (this.prefixed.size < PREFIX_CACHE_LIMIT) this.prefixed.set(key, full);
    }
    return full;
  }

  private commit(r: PipelineRecord): void {
    const { keys, values, length } = this.fields;
    const attrs = r.attributes;
    let severity = -1;
    let severityRank = Number.MAX_SAFE_INTEGER;
    let timestamp = -1;
    let timestampRank = Number.MAX_SAFE_INTEGER;
    let body = -1;
    for (let i = 0; i < length; i++) {
      const key = keys[i] as string;
      const sr = this.severityKeys.get(key);
      if (sr !== undefined && sr <= severityRank) {
        severityRank = sr;
        severity = i;
      }
      const tr = this.timestampKeys.get(key);
      if (tr !== undefined && tr <= timestampRank) {
        timestampRank = tr;
        timestamp = i;
      }
      if (key === this.bodyFrom) {
        body = i;
        continue;
      }
      setAttribute(attrs, this.attributeKey(key), values[i] as Value);
    }
    if (severity >= 0 && (this.overwriteSeverity || r.severityNumber === 0)) {
      this.applySeverity(r, values[severity] as Value);
    }
    if (timestamp >= 0 && (this.overwriteTimestamp || r.timeUnixNano === 0n)) {
      this.time.referenceNs =
        r.observedTimeUnixNano > 0n ? r.observedTimeUnixNano : r.origin.receiveTimeUnixNano;
      const ns = parseTimestamp(values[timestamp] as Value, this.time);
      if (ns !== undefined) r.timeUnixNano = ns;
    }
    if (body >= 0) r.body = values[body] as Value;
  }

  private applySeverity(r: PipelineRecord, v: Value): void {
    let code: number;
    if (typeof v === "string") {
      const n = severityFromText(v);
      if (n > 0) {
        r.severityNumber = n;
        r.severityText = v;
        return;
      }
      if (!/^\d{1,2}$/.test(v)) return;
      code = Number(v);
    } else if (typeof v === "bigint" || typeof v === "number") {
      code = Number(v);
    } else {
      return;
    }
    if (this.syslog) {
      const n = syslogSeverityNumber(code);
      if (n > 0) {
        r.severityNumber = n;
        r.severityText = syslogSeverityName(code);
      }
      return;
    }
    const level = numericLevel(code);
    if (level) {
      r.severityNumber = level[0];
      r.severityText = level[1];
    }
  }
}
