/**
 * The parsed fields of one record, held until the whole input has parsed
 * so that a failure half-way leaves the record as it was. One buffer per
 * processor is reused for every record.
 */
import type { Value } from "../../core/pipeline/record.js";
import type { FieldSink } from "../common/json.js";

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INTEGER = /^-?(?:0|[1-9]\d*)$/;
const DECIMAL = /^-?(?:0|[1-9]\d*)\.\d+(?:[eE][+-]?\d+)?$/;

/**
 * Text as the value it unambiguously spells: integers within int64 (no
 * leading zeros, so ids like "007" stay text), decimals with a fraction,
 * true/false. Anything else stays a string.
 */
export function typedValue(text: string): Value {
  const c = text.charCodeAt(0);
  if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
    if (INTEGER.test(text)) {
      if (text.length <= 15) return BigInt(Number(text));
      const big = BigInt(text);
      return big >= INT64_MIN && big <= INT64_MAX ? big : text;
    }
    if (DECIMAL.test(text)) {
      const n = Number(text);
      return Number.isFinite(n) ? n : text;
    }
    return text;
  }
  switch (text) {
    case "true":
    case "True":
    case "TRUE":
      return true;
    case "false":
    case "False":
    case "FALSE":
      return false;
    default:
      return text;
  }
}

export class FieldBuffer implements FieldSink {
  readonly keys: string[] = [];
  readonly values: Value[] = [];
  length = 0;

  constructor(readonly typed: boolean) {}

  reset(): void {
    this.length = 0;
  }

  add(key: string, value: Value): void {
    this.keys[this.length] = key;
    this.values[this.length] = value;
    this.length++;
  }

  /** Adds text found in a text format, typed when the processor is configured to. */
  addText(key: string, text: string): void {
    this.add(key, this.typed ? typedValue(text) : text);
  }

  /** Drops references to the last record's values so large bodies are not kept alive. */
  release(): void {
    this.values.fill(null);
    this.length = 0;
  }
}
