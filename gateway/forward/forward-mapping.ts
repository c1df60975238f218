/**
 * Forward protocol events to OTLP: recognises the event modes of a decoded
 * frame, normalises each entry (time forms, Fluent Bit's metadata), and
 * writes an ExportLogsServiceRequest straight to protobuf wire bytes.
 * The mapping is described in docs/forward.md.
 */
import { ExtData } from "@msgpack/msgpack";
import { ProtoWriter } from "../../core/protowire/writer.js";
import { EventTime, rawStringOrBinary } from "./msgpack-frames.js";

export type ForwardMode = "message" | "forward" | "packed_forward" | "compressed_packed_forward";

/** A frame whose shape is none of the Forward protocol's; the whole frame is refused. */
export class InvalidFrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidFrameError";
  }
}

export interface EventFrame {
  tag: string;
  mode: ForwardMode;
  /** Entries as decoded (Message and Forward modes), or the packed msgpack bytes (possibly gzip). */
  entries: unknown[] | Uint8Array;
  /** The `chunk` option as sent, echoed back in the ack. */
  chunk: string | Uint8Array | undefined;
  /** Fluent Bit's `fluent_signal` option: 0 (or absent) is logs. */
  signal: number;
  /** The `size` option, informational only. */
  size: number | undefined;
}

export type FluentRecord = Record<string, unknown>;

export interface ForwardEntry {
  /** 0 when the entry carried no usable time. */
  timeUnixNano: bigint;
  record: FluentRecord;
  metadata: FluentRecord | undefined;
  /** Set for entries that are not [time, record]; `record` is then empty and `raw` holds what came. */
  error?: string;
  raw?: unknown;
}

export function isMap(v: unknown): v is FluentRecord {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

/** Recognises the event mode of a decoded frame; `bytes` are the frame's own msgpack bytes. */
export function classifyFrame(value: unknown, bytes: Uint8Array): EventFrame {
  if (!Array.isArray(value)) throw new InvalidFrameError("a frame must be a msgpack array");
  if (value.length < 2 || value.length > 4) {
    throw new InvalidFrameError(`a frame must have 2 to 4 elements, got ${value.length}`);
  }
  const rawTag = value[0];
  const tag =
    typeof rawTag === "string" ? rawTag : isBytes(rawTag) ? Buffer.from(rawTag).toString() : undefined;
  if (tag === undefined) throw new InvalidFrameError("the tag must be a string");
  const second = value[1];
  let mode: ForwardMode;
  let entries: unknown[] | Uint8Array;
  let optionValue: unknown;
  if (Array.isArray(second)) {
    const first = second[0];
    if (second.length === 0 || Array.isArray(first)) {
      mode = "forward";
      entries = second;
      optionValue = value[2];
    } else if (value.length >= 3 && isMap(value[2]) && second.length === 2) {
      // Message mode whose time is Fluent Bit's [time, metadata] pair.
      mode = "message";
      entries = [[second, value[2]]];
      optionValue = value[3];
    } else {
      throw new InvalidFrameError("forward mode entries must be [time, record] arrays");
    }
  } else if (typeof second === "string" || isBytes(second)) {
    mode = "packed_forward";
    entries = rawStringOrBinary(bytes, 1) ?? (isBytes(second) ? second : Buffer.from(second, "latin1"));
    optionValue = value[2];
  } else if (value.length >= 3) {
    mode = "message";
    entries = [[second, value[2]]];
    optionValue = value[3];
  } else {
    throw new InvalidFrameError("a message mode frame needs a time and a record");
  }
  if (optionValue !== undefined && optionValue !== null && !isMap(optionValue)) {
    throw new InvalidFrameError("the option must be a map");
  }
  const option = (optionValue ?? {}) as FluentRecord;
  const chunk = option.chunk;
  if (chunk !== undefined && typeof chunk !== "string" && !isBytes(chunk)) {
    throw new InvalidFrameError("the chunk option must be a string");
  }
  const compressed = option.compressed;
  if (compressed !== undefined && compressed !== null && compressed !== "text") {
    if (compressed !== "gzip") throw new InvalidFrameError(`unsupported compression "${String(compressed)}"`);
    if (mode !== "packed_forward") throw new InvalidFrameError("only packed entries can be compressed");
    mode = "compressed_packed_forward";
  }
  const signal = option.fluent_signal;
  const size = option.size;
  return {
    tag,
    mode,
    entries,
    chunk,
    signal: typeof signal === "number" ? signal : 0,
    size: typeof size === "number" ? size : undefined,
  };
}

const NANOS = 1_000_000_000n;
const UINT64_LIMIT = 1n << 64n;

/** Time in any of the Forward protocol's forms, as Unix nanoseconds; undefined when unusable. */
export function toUnixNano(t: unknown): bigint | undefined {
  if (t instanceof EventTime) return t.toUnixNano();
  if (typeof t === "number") {
    if (!Number.isFinite(t) || t < 0) return undefined;
    const seconds = Math.floor(t);
    const nanos = Math.min(999_999_999, Math.round((t - seconds) * 1e9));
    const ns = BigInt(seconds) * NANOS + BigInt(nanos);
    return ns < UINT64_LIMIT ? ns : undefined;
  }
  if (typeof t === "bigint") {
    const ns = t * NANOS;
    return t >= 0n && ns < UINT64_LIMIT ? ns : undefined;
  }
  if (t instanceof Date) {
    const ms = t.getTime();
    return Number.isFinite(ms) && ms >= 0 ? BigInt(ms) * 1_000_000n : undefined;
  }
  return undefined;
}

/** Normalises one entry; shapes that cannot be read are kept, marked with an error. */
export function parseEntry(e: unknown): ForwardEntry {
  if (!Array.isArray(e) || e.length < 2) {
    return {
      timeUnixNano: 0n,
      record: {},
      metadata: undefined,
      error: "entry is not [time, record]",
      raw: e,
    };
  }
  let time = e[0];
  let metadata: FluentRecord | undefined;
  if (Array.isArray(time)) {
    // Fluent Bit 2.1 and later: [[time, metadata], record].
    metadata = isMap(time[1]) ? time[1] : undefined;
    time = time[0];
  }
  const record = e[1];
  const ns = toUnixNano(time);
  if (ns === undefined) {
    return { timeUnixNano: 0n, record: {}, metadata, error: "entry time is not a valid time", raw: e };
  }
  if (!isMap(record)) {
    return { timeUnixNano: ns, record: {}, metadata, error: "entry record is not a map", raw: record };
  }
  return { timeUnixNano: ns, record, metadata };
}

export interface MappingOptions {
  /** Record keys that give service.name, first present wins. */
  serviceNameKeys: readonly string[];
  /** Fallback when no key is present: the whole tag (true), a regex's first group (or match), or nothing. */
  serviceNameFromTag: boolean | RegExp;
  /** Record keys that become the body, first present wins. */
  bodyKeys: readonly string[];
  /** Record keys whose string value becomes severity_text (and severity_number). */
  severityKeys: readonly string[];
  /** Keep Fluent Bit's per-record metadata as fluent.metadata.* attributes. */
  keepMetadata: boolean;
}

export interface TaggedEntries {
  tag: string;
  entries: ForwardEntry[];
  observedUnixNano: bigint;
}

const SEVERITY: Record<string, number> = {
  trace: 1,
  debug: 5,
  info: 9,
  information: 9,
  informational: 9,
  notice: 10,
  warn: 13,
  warning: 13,
  error: 17,
  err: 17,
  critical: 21,
  crit: 21,
  fatal: 21,
  alert: 22,
  emerg: 23,
  emergency: 23,
  panic: 24,
};

/** Mirrors the ingest walker's nesting limit: body values start at 0, attribute values at 1. */
const MAX_DEPTH = 32;

function serviceNameOf(
  tag: string,
  record: FluentRecord,
  opts: MappingOptions,
): [string | undefined, string | undefined] {
  for (const key of opts.serviceNameKeys) {
    const v = record[key];
    if (typeof v === "string" && v !== "") return [v, key];
    if (typeof v === "number" || typeof v === "bigint") return [String(v), key];
  }
  const rule = opts.serviceNameFromTag;
  if (rule === true) return [tag, undefined];
  if (rule instanceof RegExp) {
    const m = rule.exec(tag);
    if (m) return [m[1] ?? m[0], undefined];
  }
  return [undefined, undefined];
}

function jsonFallback(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => {
      if (typeof x === "bigint") return x.toString();
      if (x instanceof Uint8Array) return Buffer.from(x).toString("base64");
      if (x instanceof EventTime) return x.toUnixNano().toString();
      return x;
    });
  } catch {
    return "[value nested too deeply to represent]";
  }
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** Writes one AnyValue as field `field` of the open message. */
export function writeAnyValue(w: ProtoWriter, field: number, v: unknown, depth: number): void {
  w.beginMessage(field);
  writeValueBody(w, v, depth);
  w.endMessage();
}

function writeValueBody(w: ProtoWriter, v: unknown, depth: number): void {
  switch (typeof v) {
    case "string":
      w.string(1, v);
      return;
    case "boolean":
      w.bool(2, v);
      return;
    case "number":
      if (Number.isSafeInteger(v)) w.int64(3, v);
      else w.double(4, v);
      return;
    case "bigint":
      // uint64 values past int64 keep their digits as text rather than wrap.
      if (v >= INT64_MIN && v <= INT64_MAX) w.int64(3, v);
      else w.string(1, v.toString());
      return;
    case "object":
      break;
    default:
      return;
  }
  if (v === null) return;
  if (v instanceof Uint8Array) {
    w.bytes(7, v);
    return;
  }
  if (v instanceof EventTime) {
    w.int64(3, v.toUnixNano());
    return;
  }
  if (v instanceof ExtData) {
    w.bytes(7, v.data instanceof Uint8Array ? v.data : new Uint8Array(0));
    return;
  }
  if (v instanceof Date) {
    w.string(1, Number.isFinite(v.getTime()) ? v.toISOString() : String(v));
    return;
  }
  if (Array.isArray(v)) {
    if (depth + 1 > MAX_DEPTH) {
      w.string(1, jsonFallback(v));
      return;
    }
    w.beginMessage(5, 2);
    for (const x of v) writeAnyValue(w, 1, x, depth + 1);
    w.endMessage();
    return;
  }
  if (depth + 2 > MAX_DEPTH) {
    w.string(1, jsonFallback(v));
    return;
  }
  w.beginMessage(6, 2);
  for (const k in v as FluentRecord) writeKeyValue(w, 1, k, (v as FluentRecord)[k], depth + 1);
  w.endMessage();
}

/** KeyValue at `depth`; its value sits one level deeper. */
function writeKeyValue(w: ProtoWriter, field: number, key: string, v: unknown, depth: number): void {
  w.beginMessage(field, 2);
  w.string(1, key);
  writeAnyValue(w, 2, v, depth + 1);
  w.endMessage();
}

function writeLogRecord(
  w: ProtoWriter,
  tag: string,
  e: ForwardEntry,
  observed: bigint,
  opts: MappingOptions,
  serviceKey: string | undefined,
): void {
  const r = e.record;
  w.beginMessage(2, 2);
  if (e.timeUnixNano !== 0n) w.fixed64(1, e.timeUnixNano);
  let severityKey: string | undefined;
  for (const key of opts.severityKeys) {
    const v = r[key];
    if (typeof v === "string" && v !== "") {
      severityKey = key;
      const n = SEVERITY[v.toLowerCase()];
      if (n !== undefined) w.uint32(2, n);
      w.string(3, v);
      break;
    }
  }
  let bodyKey: string | undefined;
  if (e.error !== undefined) {
    if (e.raw !== undefined) writeAnyValue(w, 5, e.raw, 0);
  } else {
    for (const key of opts.bodyKeys) {
      if (key in r) {
        bodyKey = key;
        writeAnyValue(w, 5, r[key], 0);
        break;
      }
    }
  }
  writeKeyValue(w, 6, "fluent.tag", tag, 0);
  if (e.error !== undefined) writeKeyValue(w, 6, "fluent.error", e.error, 0);
  for (const k in r) {
    if (k === bodyKey || k === severityKey || k === serviceKey) continue;
    writeKeyValue(w, 6, k, r[k], 0);
  }
  if (opts.keepMetadata && e.metadata) {
    for (const k in e.metadata) writeKeyValue(w, 6, `fluent.metadata.${k}`, e.metadata[k], 0);
  }
  w.fixed64(11, observed);
  w.endMessage();
}

interface Pending {
  tag: string;
  entry: ForwardEntry;
  observed: bigint;
  serviceKey: string | undefined;
}

/**
 * One ExportLogsServiceRequest for a batch of frames: one ResourceLogs per
 * service.name (records without one share a ResourceLogs with no
 * attributes), records in arrival order within each.
 */
export function buildExportRequest(
  batch: readonly TaggedEntries[],
  opts: MappingOptions,
): { bytes: Uint8Array; records: number } {
  const groups = new Map<string | undefined, Pending[]>();
  let records = 0;
  for (const { tag, entries, observedUnixNano } of batch) {
    for (const entry of entries) {
      const [service, serviceKey] =
        entry.error === undefined ? serviceNameOf(tag, entry.record, opts) : serviceNameOf(tag, {}, opts);
      let list = groups.get(service);
      if (!list) {
        list = [];
        groups.set(service, list);
      }
      list.push({ tag, entry, observed: observedUnixNano, serviceKey });
      records++;
    }
  }
  const w = new ProtoWriter();
  for (const [service, list] of groups) {
    w.beginMessage(1, 3);
    if (service !== undefined) {
      w.beginMessage(1);
      writeKeyValue(w, 1, "service.name", service, 0);
      w.endMessage();
    }
    w.beginMessage(2, 3);
    w.beginMessage(1);
    w.string(1, "sluice.forward");
    w.endMessage();
    for (const p of list) writeLogRecord(w, p.tag, p.entry, p.observed, opts, p.serviceKey);
    w.endMessage();
    w.endMessage();
  }
  return { bytes: w.finish(), records };
}
