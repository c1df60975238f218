/**
 * Masks secrets and personal data in string bodies and string attribute
 * values (through arrays and kvlists), and replaces the whole value of
 * keys that hold credentials. Only the matched text changes; everything
 * around it, whatever the script, is kept as it was.
 */
import type { BatchContext, ComponentDeps, Processor } from "../../core/pipeline/component.js";
import type { PipelineRecord, ResourceInfo, Value } from "../../core/pipeline/record.js";
import { compileRegex } from "../common/regex.js";
import { setAttribute } from "../common/values.js";
import { ProcessorStats } from "../metrics.js";
import type { RedactConfig } from "./config.js";
import { BEARER, CARD, IPV4, luhnValid, replaceEmails, SSN } from "./patterns.js";

export const REDACTION_COUNT_ATTRIBUTE = "redaction.count";

const NORMAL = 0;
const ALWAYS = 1;
const EXCLUDED = 2;
const KEY_CACHE_LIMIT = 10_000;
const MAX_DEPTH = 512;

interface CustomPattern {
  regex: RegExp;
  /** A "$1"/"$<name>" template String.replace expands, or a function that also counts. */
  replacement: string | (() => string);
}

/**
 * Whether `key` names `name` (lowercase): the whole key, or its last part
 * after ".", "_" or "-", or a camelCase tail ("dbPassword"), any case.
 */
function keyNames(key: string, lower: string, name: string): boolean {
  if (lower === name) return true;
  if (!lower.endsWith(name) || lower.length === name.length) return false;
  const p = lower.length - name.length;
  const prev = lower.charCodeAt(p - 1);
  if (prev === 0x2e || prev === 0x5f || prev === 0x2d) return true;
  if (key.length !== lower.length) return false;
  const first = key.charCodeAt(p);
  const before = key.charCodeAt(p - 1);
  return (
    first >= 0x41 &&
    first <= 0x5a &&
    ((before >= 0x61 && before <= 0x7a) || (before >= 0x30 && before <= 0x39))
  );
}

export class RedactProcessor implements Processor {
  private readonly mask: string;
  private readonly keepLast: number;
  private readonly email: boolean;
  private readonly card: RegExp | undefined;
  private readonly bearer: RegExp | undefined;
  private readonly ssn: RegExp | undefined;
  private readonly ipv4: RegExp | undefined;
  private readonly custom: CustomPattern[];
  private readonly excluded: Set<string>;
  private readonly always: string[];
  private readonly keyClass = new Map<string, number>();
  private readonly includeResource: boolean;
  private readonly countAttribute: boolean;
  private readonly doneResources = new WeakSet<ResourceInfo>();
  private readonly stats: ProcessorStats;
  /** Redactions in the value being processed; read and reset per record. */
  private count = 0;

  constructor(
    readonly name: string,
    config: RedactConfig,
    deps: ComponentDeps,
  ) {
    this.mask = config.mask;
    this.keepLast = config.keep_last_digits;
    const on = new Set(config.builtins);
    const copy = (re: RegExp) => new RegExp(re.source, re.flags);
    this.email = on.has("email");
    this.card = on.has("credit_card") ? copy(CARD) : undefined;
    this.bearer = on.has("bearer_token") ? copy(BEARER) : undefined;
    this.ssn = on.has("us_ssn") ? copy(SSN) : undefined;
    this.ipv4 = on.has("ipv4") ? copy(IPV4) : undefined;
    this.custom = config.patterns.map((p) => {
      const text = p.replacement ?? config.mask;
      const replacement = text.includes("$")
        ? text
        : () => {
            this.count++;
            return text;
          };
      return { regex: compileRegex(p.regex, "g"), replacement };
    });
    this.excluded = new Set(config.exclude_keys);
    this.always = config.keys_always_redacted.map((k) => k.toLowerCase());
    this.includeResource = config.include_resource;
    this.countAttribute = config.add_redaction_count_attribute;
    this.stats = new ProcessorStats(deps.metrics.registry, name);
  }

  process(records: PipelineRecord[], _ctx: BatchContext): PipelineRecord[] {
    this.stats.processed(records.length);
    for (let i = 0; i < records.length; i++) {
      const r = records[i] as PipelineRecord;
      try {
        this.redactRecord(r);
      } catch {
        // Only a user pattern exhausting the regex engine can get here; the
        // record keeps whatever was already masked.
      }
    }
    return records;
  }

  private redactRecord(r: PipelineRecord): void {
    if (this.includeResource && !this.doneResources.has(r.resource)) {
      this.doneResources.add(r.resource);
      this.redactObject(r.resource.attributes, 0);
    }
    this.count = 0;
    const body = r.body;
    if (typeof body === "string") r.body = this.redactString(body);
    else if (typeof body === "object" && body !== null && !(body instanceof Uint8Array))
      this.redactNested(body, 0);
    this.redactObject(r.attributes, 0);
    if (this.countAttribute && this.count > 0) {
      setAttribute(r.attributes, REDACTION_COUNT_ATTRIBUTE, BigInt(this.count));
    }
  }

  /** Redacts a string; returns the same string object when nothing matched. */
  redactString(input: string): string {
    let s = input;
    if (this.bearer) s = s.replace(this.bearer, this.onBearer);
    if (this.email) s = replaceEmails(s, this.onMatch);
    if (this.card) s = s.replace(this.card, this.onCard);
    if (this.ssn && s.includes("-")) s = s.replace(this.ssn, this.onMatch);
    if (this.ipv4 && s.includes(".")) s = s.replace(this.ipv4, this.onMatch);
    for (let i = 0; i < this.custom.length; i++) {
      const p = this.custom[i] as CustomPattern;
      if (typeof p.replacement === "function") {
        s = s.replace(p.regex, p.replacement);
      } else {
        const before = s;
        s = s.replace(p.regex, p.replacement);
        if (s !== before) this.count += countMatches(p.regex, before);
      }
    }
    return s === input ? input : s;
  }

  private readonly onMatch = (): string => {
    this.count++;
    return this.mask;
  };

  private readonly onBearer = (_m: string, authorization?: string, bearer?: string): string => {
    this.count++;
    return (authorization ?? bearer ?? "") + this.mask;
  };

  private readonly onCard = (m: string): string => {
    const first = m.charCodeAt(0);
    // Card numbers start with 2..6 (Mastercard, Visa, Amex/Diners/JCB,
    // Discover/UnionPay); skipping other first digits spares epoch
    // timestamps in nanoseconds, which pass Luhn one time in ten.
    if (first < 0x32 || first > 0x36 || !luhnValid(m)) return m;
    this.count++;
    if (this.keepLast === 0) return this.mask;
    let tail = "";
    for (let i = m.length - 1, kept = 0; i >= 0 && kept < this.keepLast; i--) {
      const c = m.charCodeAt(i);
      if (c >= 0x30 && c <= 0x39) {
        tail = m[i] + tail;
        kept++;
      }
    }
    return this.mask + tail;
  };

  private classify(key: string): number {
    let c = this.keyClass.get(key);
    if (c !== undefined) return c;
    if (this.excluded.has(key)) {
      c = EXCLUDED;
    } else {
      const lower = key.toLowerCase();
      c = this.always.some((name) => keyNames(key, lower, name)) ? ALWAYS : NORMAL;
    }
    if (this.keyClass.size >= KEY_CACHE_LIMIT) this.keyClass.clear();
    this.keyClass.set(key, c);
    return c;
  }

  private redactObject(obj: { [key: string]: Value }, depth: number): void {
    for (const key in obj) {
      if (!Object.hasOwn(obj, key)) continue;
      const cls = this.classify(key);
      if (cls === EXCLUDED) continue;
      const v = obj[key] as Value;
      if (cls === ALWAYS) {
        if (v !== null && v !== "" && v !== this.mask) {
          setAttribute(obj, key, this.mask);
          this.count++;
        }
        continue;
      }
      if (typeof v === "string") {
        const out = this.redactString(v);
        if (out !== v) setAttribute(obj, key, out);
      } else if (typeof v === "object" && v !== null && !(v instanceof Uint8Array)) {
        this.redactNested(v, depth + 1);
      }
    }
  }

  private redactNested(v: Value[] | { [key: string]: Value }, depth: number): void {
    if (depth > MAX_DEPTH) return;
    if (!Array.isArray(v)) {
      this.redactObject(v, depth);
      return;
    }
    for (let i = 0; i < v.length; i++) {
      const item = v[i] as Value;
      if (typeof item === "string") v[i] = this.redactString(item);
      else if (typeof item === "object" && item !== null && !(item instanceof Uint8Array)) {
        this.redactNested(item, depth + 1);
      }
    }
  }
}

function countMatches(re: RegExp, text: string): number {
  let n = 0;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    n++;
    if (m[0] === "") re.lastIndex++;
  }
  re.lastIndex = 0;
  return n;
}
