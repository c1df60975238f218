/**
 * The stable per-record id every sink deduplicates on.
 *
 * A producer-given `log.record.uid` attribute wins. Otherwise the id is a
 * hash of the record's canonical content: resource, scope, timestamps,
 * severity, body, attributes, trace context, flags and event name, with
 * map keys sorted so attribute order does not matter. A client resending a
 * whole batch after a timeout therefore produces the same ids, and so does
 * a replay from the log. The one consequence: two records identical in
 * every one of those fields are treated as the same record.
 */
import { createHash, type Hash } from "node:crypto";
import type { Attributes, PipelineRecord, ResourceInfo, ScopeInfo, Value } from "./record.js";

export const RECORD_UID_ATTRIBUTE = "log.record.uid";

// Type tags keep ["a","b"] and "ab", or 1 and "1", from hashing alike.
const T_NULL = 0;
const T_STRING = 1;
const T_BOOL = 2;
const T_INT = 3;
const T_DOUBLE = 4;
const T_BYTES = 5;
const T_ARRAY = 6;
const T_MAP = 7;

/** Appends a canonical, unambiguous encoding of values to a growable buffer. */
class CanonicalWriter {
  buf = Buffer.allocUnsafe(4096);
  pos = 0;

  reset(): void {
    this.pos = 0;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }

  u64(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigUInt64LE(BigInt.asUintN(64, v), this.pos);
    this.pos += 8;
  }

  str(s: string): void {
    const max = s.length * 3;
    this.ensure(4 + max);
    const n = this.buf.write(s, this.pos + 4, "utf8");
    this.buf.writeUInt32LE(n, this.pos);
    this.pos += 4 + n;
  }

  bytes(b: Uint8Array): void {
    this.ensure(4 + b.length);
    this.buf.writeUInt32LE(b.length, this.pos);
    this.buf.set(b, this.pos + 4);
    this.pos += 4 + b.length;
  }

  value(v: Value): void {
    if (v === null || v === undefined) {
      this.u8(T_NULL);
      return;
    }
    switch (typeof v) {
      case "string":
        this.u8(T_STRING);
        this.str(v);
        return;
      case "boolean":
        this.u8(T_BOOL);
        this.u8(v ? 1 : 0);
        return;
      case "bigint":
        this.u8(T_INT);
        this.u64(v);
        return;
      case "number":
        this.u8(T_DOUBLE);
        this.ensure(8);
        this.buf.writeDoubleLE(v, this.pos);
        this.pos += 8;
        return;
    }
    if (v instanceof Uint8Array) {
      this.u8(T_BYTES);
      this.bytes(v);
      return;
    }
    if (Array.isArray(v)) {
      this.u8(T_ARRAY);
      this.u32(v.length);
      for (const item of v) this.value(item);
      return;
    }
    this.u8(T_MAP);
    this.map(v);
  }

  map(m: Attributes): void {
    const keys = Object.keys(m).sort();
    this.u32(keys.length);
    for (const k of keys) {
      this.str(k);
      this.value(m[k] as Value);
    }
  }

  digestInto(hash: Hash): void {
    hash.update(this.buf.subarray(0, this.pos));
  }
}

const writer = new CanonicalWriter();

/**
 * Hash state over a resource and scope, computed once per envelope and
 * copied for each of its records.
 */
export function contextHash(resource: ResourceInfo, scope: ScopeInfo): Hash {
  writer.reset();
  writer.map(resource.attributes);
  writer.str(resource.schemaUrl);
  writer.str(scope.name);
  writer.str(scope.version);
  writer.map(scope.attributes);
  writer.str(scope.schemaUrl);
  const hash = createHash("sha256");
  writer.digestInto(hash);
  return hash;
}

/** The record's event id: log.record.uid when given, else 32 hex chars of its content hash. */
export function eventIdFor(record: Omit<PipelineRecord, "eventId">, context: Hash): string {
  const uid = record.attributes[RECORD_UID_ATTRIBUTE];
  if (typeof uid === "string" && uid.length > 0) return uid;
  writer.reset();
  writer.u64(record.timeUnixNano);
  writer.u64(record.observedTimeUnixNano);
  writer.u32(record.severityNumber);
  writer.str(record.severityText);
  writer.value(record.body);
  writer.map(record.attributes);
  writer.str(record.traceId);
  writer.str(record.spanId);
  writer.u32(record.flags);
  writer.str(record.eventName);
  const hash = context.copy();
  writer.digestInto(hash);
  return hash.digest("hex").slice(0, 32);
}
