/**
 * Walks an encoded ExportLogsServiceRequest without building objects:
 * checks every tag, length, wire type and UTF-8 string, reads the routing
 * key, and splits the records into groups (plain logs vs structured events,
 * by key), each an encoded ResourceLogs made of slices of the request.
 *
 * When a ResourceLogs needs no split, its group is the one slice that
 * arrived, so protobuf ingest copies the record bytes exactly once: into
 * the envelope.
 */
import { isUtf8 } from "node:buffer";
import { putVarint, varintSize, WireCursor, WireError, WireType } from "./wire.js";

export type RecordKind = "logs" | "events";

export interface KeyRule {
  /** Attribute whose value keys the record, as UTF-8 bytes (e.g. "service.name"). */
  attribute: Uint8Array;
  /** Where to look: the resource's attributes, or the record's first and then the resource's. */
  from: "resource" | "record";
}

/** One ResourceLogs worth of records that share a kind and a key. */
export interface ResourceGroup {
  kind: RecordKind;
  key: Uint8Array;
  /** The encoded ResourceLogs message body, as pieces to concatenate in order. */
  pieces: Uint8Array[];
  byteLength: number;
  recordCount: number;
}

/** Records refused one by one; the rest of the request goes on. */
export interface RejectedGroup extends ResourceGroup {
  reasonCode: string;
  reason: string;
}

export interface SplitResult {
  groups: ResourceGroup[];
  rejected: RejectedGroup[];
  acceptedRecords: number;
  rejectedRecords: number;
}

const MAX_ANYVALUE_DEPTH = 32;
const EMPTY = new Uint8Array(0);

// Why a record is refused on its own, rather than failing the whole request.
const REJECT_NONE = 0;
const REJECT_TRACE_ID = 1;
const REJECT_SPAN_ID = 2;
const REJECT_REASONS: Record<number, { code: string; text: string }> = {
  [REJECT_TRACE_ID]: { code: "INVALID_TRACE_ID", text: "trace_id must be empty or exactly 16 bytes" },
  [REJECT_SPAN_ID]: { code: "INVALID_SPAN_ID", text: "span_id must be empty or exactly 8 bytes" },
};

function fail(path: string, what: string): never {
  throw new WireError(`${path}: ${what}`);
}

function expectWireType(path: string, field: number, got: number, want: number): void {
  if (got !== want) fail(path, `field ${field} has wire type ${got}, expected ${want}`);
}

/** Per-record facts gathered during the walk, in reusable growable arrays. */
class RecordTable {
  count = 0;
  start = new Int32Array(256);
  end = new Int32Array(256);
  scope = new Int32Array(256);
  events = new Uint8Array(256);
  reject = new Uint8Array(256);
  keys: Uint8Array[] = [];

  clear(): void {
    this.count = 0;
    this.keys.length = 0;
  }

  push(start: number, end: number, scope: number, isEvent: boolean, reject: number, key: Uint8Array): void {
    if (this.count === this.start.length) this.grow();
    const i = this.count++;
    this.start[i] = start;
    this.end[i] = end;
    this.scope[i] = scope;
    this.events[i] = isEvent ? 1 : 0;
    this.reject[i] = reject;
    this.keys[i] = key;
  }

  private grow(): void {
    const n = this.start.length * 2;
    const g32 = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    const g8 = (a: Uint8Array) => {
      const b = new Uint8Array(n);
      b.set(a);
      return b;
    };
    this.start = g32(this.start);
    this.end = g32(this.end);
    this.scope = g32(this.scope);
    this.events = g8(this.events);
    this.reject = g8(this.reject);
  }
}

interface ScopeInfo {
  /** Non-record fields of the ScopeLogs (scope, schema_url, unknown), tags included. */
  other: Uint8Array[];
  otherLength: number;
}

export class OtlpLogsSplitter {
  private readonly rule: KeyRule;
  private readonly validateUtf8: boolean;
  private readonly c = new WireCursor(EMPTY);
  private readonly records = new RecordTable();
  private scopes: ScopeInfo[] = [];
  // Set by walkAttributes when the key attribute is seen.
  private foundKey: Uint8Array | undefined;

  constructor(rule: KeyRule, options: { validateUtf8?: boolean } = {}) {
    this.rule = rule;
    this.validateUtf8 = options.validateUtf8 ?? true;
  }

  /** Throws WireError when the request cannot be decoded. */
  split(request: Uint8Array): SplitResult {
    const result: SplitResult = { groups: [], rejected: [], acceptedRecords: 0, rejectedRecords: 0 };
    const c = this.c;
    c.reset(request, 0, request.length);
    let index = 0;
    while (c.pos < c.end) {
      const tag = c.uint32();
      const field = tag >>> 3;
      const wt = tag & 7;
      if (field === 1) {
        expectWireType("resource_logs", 1, wt, WireType.LEN);
        const end = c.lengthDelimitedEnd();
        const start = c.pos;
        this.walkResourceLogs(request, start, end, `resource_logs[${index}]`, result);
        c.reset(request, end, request.length);
        index++;
      } else {
        if (field === 0) fail("request", "field number 0 is invalid");
        c.skip(wt);
      }
    }
    return result;
  }

  private walkResourceLogs(
    buf: Uint8Array,
    start: number,
    end: number,
    path: string,
    out: SplitResult,
  ): void {
    const c = this.c;
    c.reset(buf, start, end);
    const records = this.records;
    records.clear();
    this.scopes.length = 0;
    const resourcePieces: Uint8Array[] = [];
    let resourcePiecesLength = 0;
    let resourceKey: Uint8Array = EMPTY;
    let scopeIndex = 0;

    while (c.pos < end) {
      const fieldStart = c.pos;
      const tag = c.uint32();
      const field = tag >>> 3;
      const wt = tag & 7;
      if (field === 1) {
        expectWireType(path, 1, wt, WireType.LEN);
        const e = c.lengthDelimitedEnd();
        resourceKey = this.walkResource(e, `${path}.resource`) ?? EMPTY;
        c.pos = e;
        c.end = end;
      } else if (field === 2) {
        expectWireType(path, 2, wt, WireType.LEN);
        const e = c.lengthDelimitedEnd();
        this.walkScopeLogs(e, `${path}.scope_logs[${scopeIndex}]`, scopeIndex);
        c.pos = e;
        c.end = end;
        scopeIndex++;
        continue;
      } else if (field === 3) {
        expectWireType(path, 3, wt, WireType.LEN);
        this.checkString(c.lengthDelimitedEnd(), `${path}.schema_url`);
      } else {
        if (field === 0) fail(path, "field number 0 is invalid");
        c.skip(wt);
      }
      const piece = buf.subarray(fieldStart, c.pos);
      resourcePieces.push(piece);
      resourcePiecesLength += piece.length;
    }

    const n = records.count;
    if (n === 0) return; // An empty envelope carries nothing to keep (OTLP lets receivers drop it).

    // Resolve each record's key; record-level keys fall back to the resource's.
    let uniform = true;
    const firstKey = records.keys[0] ?? resourceKey;
    const firstEvents = records.events[0];
    for (let i = 0; i < n; i++) {
      if (records.keys[i] === undefined) records.keys[i] = resourceKey;
      if (
        records.reject[i] !== REJECT_NONE ||
        records.events[i] !== firstEvents ||
        !sameBytes(records.keys[i] as Uint8Array, firstKey)
      ) {
        uniform = false;
      }
    }
    if (uniform) {
      out.groups.push({
        kind: firstEvents ? "events" : "logs",
        key: firstKey,
        pieces: [buf.subarray(start, end)],
        byteLength: end - start,
        recordCount: n,
      });
      out.acceptedRecords += n;
      return;
    }

    // Slow path: regroup records by (reject reason | kind, key), keeping their order.
    const groups = new Map<string, number[]>();
    for (let i = 0; i < n; i++) {
      const k = records.keys[i] as Uint8Array;
      const id = `${records.reject[i]}:${records.events[i]}:${Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString("latin1")}`;
      let list = groups.get(id);
      if (list === undefined) {
        list = [];
        groups.set(id, list);
      }
      list.push(i);
    }
    for (const list of groups.values()) {
      const first = list[0] as number;
      const group = this.assemble(buf, list, resourcePieces, resourcePiecesLength);
      group.kind = records.events[first] ? "events" : "logs";
      group.key = records.keys[first] as Uint8Array;
      const reject = records.reject[first] as number;
      if (reject === REJECT_NONE) {
        out.groups.push(group);
        out.acceptedRecords += list.length;
      } else {
        const why = REJECT_REASONS[reject] as { code: string; text: string };
        out.rejected.push({ ...group, reasonCode: why.code, reason: why.text });
        out.rejectedRecords += list.length;
      }
    }
  }

  /** Builds a ResourceLogs holding only the listed records, wrapping each scope anew. */
  private assemble(
    buf: Uint8Array,
    list: number[],
    resourcePieces: Uint8Array[],
    resourcePiecesLength: number,
  ): ResourceGroup {
    const records = this.records;
    const pieces = resourcePieces.slice();
    let byteLength = resourcePiecesLength;
    let i = 0;
    while (i < list.length) {
      const scope = records.scope[list[i] as number] as number;
      let j = i;
      let scopeLength = (this.scopes[scope] as ScopeInfo).otherLength;
      while (j < list.length && records.scope[list[j] as number] === scope) {
        const r = list[j] as number;
        scopeLength += (records.end[r] as number) - (records.start[r] as number);
        j++;
      }
      const header = new Uint8Array(1 + varintSize(scopeLength));
      header[0] = (2 << 3) | WireType.LEN;
      putVarint(header, 1, scopeLength);
      pieces.push(header);
      for (const p of (this.scopes[scope] as ScopeInfo).other) pieces.push(p);
      for (let k = i; k < j; k++) {
        const r = list[k] as number;
        pieces.push(buf.subarray(records.start[r] as number, records.end[r] as number));
      }
      byteLength += header.length + scopeLength;
      i = j;
    }
    return { kind: "logs", key: EMPTY, pieces, byteLength, recordCount: list.length };
  }

  /** Returns the key attribute's value when the rule reads it from the resource. */
  private walkResource(end: number, path: string): Uint8Array | undefined {
    const c = this.c;
    c.end = end;
    let key: Uint8Array | undefined;
    let attr = 0;
    while (c.pos < end) {
      const tag = c.uint32();
      const field = tag >>> 3;
      const wt = tag & 7;
      if (field === 1) {
        expectWireType(path, 1, wt, WireType.LEN);
        const e = c.lengthDelimitedEnd();
        this.foundKey = undefined;
        this.walkKeyValue(e, `${path}.attributes[${attr++}]`, 0, true);
        if (this.foundKey !== undefined && key === undefined) key = this.foundKey;
        c.end = end;
      } else if (field === 2) {
        expectWireType(path, 2, wt, WireType.VARINT);
        c.skipVarint();
      } else if (field === 3) {
        expectWireType(path, 3, wt, WireType.LEN);
        const e = c.lengthDelimitedEnd();
        this.walkEntityRef(e, `${path}.entity_refs`);
        c.end = end;
      } else {
        if (field === 0) fail(path, "field number 0 is invalid");
        c.skip(wt);
      }
    }
    return key;
  }

  private walkEntityRef(end: number, path: string): void {
    const c = this.c;
    c.end = end;
    while (c.pos < end) {
      const tag = c.uint32();
      const field = tag >>> 3;
      const wt = tag & 7;
      if (field >= 1 && field <= 4) {
        expectWireType(path, field, wt, WireType.LEN);
        this.checkString(c.lengthDelimitedEnd(), path);
        c.end = end;
      } else {
        if (field === 0) fail(path, "field number 0 is invalid");
        c.skip(wt);
      }
    }
  }

  private walkScopeLogs(end: number, path: string, scopeIndex: number): void {
    const c = this.c;
    const buf = c.buf;
    c.end = end;
    const info: ScopeInfo = { other: [], otherLength: 0 };
    this.scopes[scopeIndex] = info;
    let recordIndex = 0;
    while (c.pos < end) {
      const fieldStart = c.pos;
      const tag = c.uint32();
      const field = tag >>> 3;
      const wt = tag & 7;
      if (field === 2) {
        expectWireType(path, 2, wt, WireType.LEN);
        const e = c.lengthDelimitedEnd();
        this.walkLogRecord(fieldStart, e, `${path}.log_records[${recordIndex++}]`, scopeIndex);
        c.pos = e;
        c.end = end;
        continue;
      }
      if (field === 1) {
        expectWireType(path, 1, wt, WireType.LEN);
        const e = c.lengthDelimitedEnd();
        this.walkScope(e, `${path}.scope`);
        c.end = end;
      } else if (field === 3) {
        expectWireType(path, 3, wt, WireType.LEN);
        this.checkString(c.lengthDelimitedEnd(), `${path}.schema_url`);
      } else {
        if (field === 0) fail(path, "field number 0 is invalid");
        c.skip(wt);
      }
      const piece = buf.subarray(fieldStart, c.pos);
      info.other.push(piece);
      info.otherLength += piece.length;
    }
  }

  private walkScope(end: number, path: string): void {
    const c = this.c;
    c.end = end;
    let attr = 0;
    while (c.pos < end) {
      const tag = c.uint32();
      const field = tag >>> 3;
      const wt = tag & 7;
      if (field === 1 || field === 2) {
        expectWireType(path, field, wt, WireType.LEN);
        this.checkString(c.lengthDelimitedEnd(), path);
      } else if (field === 3) {
        expectWireType(path, 3, wt, WireType.LEN);
        const e = c.lengthDelimitedEnd();
        this.walkKeyValue(e, `${path}.attributes[${attr++}]`, 0, false);
        c.end = end;
      } else if (field === 4) {
        expectWireType(path, 4, wt, WireType.VARINT);
        c.skipVarint();
      } else {
        if (field === 0) fail(path, "field number 0 is invalid");
        c.skip(wt);
      }
    }
  }

  /** recordStart is where the record's tag begins, so the slice carries its own framing. */
  private walkLogRecord(recordStart: number, end: number, path: string, scopeIndex: number): void {
    const c = this.c;
    c.end = end;
    let isEvent = false;
    let reject = REJECT_NONE;
    let key: Uint8Array | undefined;
    const byRecord = this.rule.from === "record";
    let attr = 0;
    while (c.pos < end) {
      const tag = c.uint32();
      const field = tag >>> 3;
      const wt = tag & 7;
      switch (field) {
        case 1: // time_unix_nano
        case 11: // observed_time_unix_nano
          expectWireType(path, field, wt, WireType.I64);
          c.advance(8);
          break;
        case 2: // severity_number
        case 7: // dropped_attributes_count
          expectWireType(path, field, wt, WireType.VARINT);
          c.skipVarint();
          break;
        case 3: // severity_text
          expectWireType(path, 3, wt, WireType.LEN);
          this.checkString(c.lengthDelimitedEnd(), `${path}.severity_text`);
          break;
        case 5: {
          expectWireType(path, 5, wt, WireType.LEN);
          const e = c.lengthDelimitedEnd();
          this.walkAnyValue(e, `${path}.body`, 0);
          c.end = end;
          break;
        }
        case 6: {
          expectWireType(path, 6, wt, WireType.LEN);
          const e = c.lengthDelimitedEnd();
          this.foundKey = undefined;
          this.walkKeyValue(e, `${path}.attributes[${attr++}]`, 0, byRecord);
          if (this.foundKey !== undefined && key === undefined) key = this.foundKey;
          c.end = end;
          break;
        }
        case 8: // flags
          expectWireType(path, 8, wt, WireType.I32);
          c.advance(4);
          break;
        case 9: {
          expectWireType(path, 9, wt, WireType.LEN);
          const e = c.lengthDelimitedEnd();
          const len = e - c.pos;
          if (len !== 0 && len !== 16) reject = REJECT_TRACE_ID;
          c.pos = e;
          break;
        }
        case 10: {
          expectWireType(path, 10, wt, WireType.LEN);
          const e = c.lengthDelimitedEnd();
          const len = e - c.pos;
          if (len !== 0 && len !== 8 && reject === REJECT_NONE) reject = REJECT_SPAN_ID;
          c.pos = e;
          break;
        }
        case 12: {
          expectWireType(path, 12, wt, WireType.LEN);
          const e = c.lengthDelimitedEnd();
          if (e > c.pos) isEvent = true;
          this.checkString(e, `${path}.event_name`);
          break;
        }
        default:
          if (field === 0) fail(path, "field number 0 is invalid");
          c.skip(wt);
      }
    }
    // An unset slot (undefined) means "take the resource's key" once it is known.
    this.records.push(recordStart, end, scopeIndex, isEvent, reject, key as Uint8Array);
  }

  /** Validates a KeyValue; when matchKey, records the value of the key attribute in foundKey. */
  private walkKeyValue(end: number, path: string, depth: number, matchKey: boolean): void {
    const c = this.c;
    c.end = end;
    let isKey = false;
    let valueStart = -1;
    let valueEnd = -1;
    while (c.pos < end) {
      const tag = c.uint32();
      const field = tag >>> 3;
      const wt = tag & 7;
      if (field === 1) {
        expectWireType(path, 1, wt, WireType.LEN);
        const e = c.lengthDelimitedEnd();
        if (matchKey) isKey = bytesEqualAt(c.buf, c.pos, e, this.rule.attribute);
        this.checkString(e, `${path}.key`);
      } else if (field === 2) {
        expectWireType(path, 2, wt, WireType.LEN);
        const e = c.lengthDelimitedEnd();
        valueStart = c.pos;
        valueEnd = e;
        this.walkAnyValue(e, `${path}.value`, depth + 1);
        c.end = end;
      } else {
        if (field === 0) fail(path, "field number 0 is invalid");
        c.skip(wt);
      }
    }
    // The value may precede the key on the wire, so the match is settled after the walk.
    if (isKey && valueStart >= 0) this.foundKey = this.keyText(valueStart, valueEnd);
  }

  /** The key's bytes: a string value as it is, ints and bools as their text, anything else empty. */
  private keyText(start: number, end: number): Uint8Array {
    const probe = new WireCursor(this.c.buf, start, end);
    let key: Uint8Array = EMPTY;
    while (probe.pos < end) {
      const tag = probe.uint32();
      const field = tag >>> 3;
      const wt = tag & 7;
      if (field === 1 && wt === WireType.LEN) {
        const e = probe.lengthDelimitedEnd();
        key = probe.buf.subarray(probe.pos, e);
        probe.pos = e;
      } else if (field === 2 && wt === WireType.VARINT) {
        key = Buffer.from(probe.int64() !== 0n ? "true" : "false");
      } else if (field === 3 && wt === WireType.VARINT) {
        key = Buffer.from(probe.int64().toString());
      } else {
        probe.skip(wt);
      }
    }
    return key;
  }

  private walkAnyValue(end: number, path: string, depth: number): void {
    if (depth > MAX_ANYVALUE_DEPTH) fail(path, `values nested deeper than ${MAX_ANYVALUE_DEPTH} levels`);
    const c = this.c;
    c.end = end;
    while (c.pos < end) {
      const tag = c.uint32();
      const field = tag >>> 3;
      const wt = tag & 7;
      switch (field) {
        case 1: // string_value
          expectWireType(path, 1, wt, WireType.LEN);
          this.checkString(c.lengthDelimitedEnd(), path);
          break;
        case 2: // bool_value
        case 3: // int_value
          expectWireType(path, field, wt, WireType.VARINT);
          c.skipVarint();
          break;
        case 4: // double_value
          expectWireType(path, 4, wt, WireType.I64);
          c.advance(8);
          break;
        case 5: // array_value: ArrayValue { repeated AnyValue values = 1 }
        case 6: {
          // kvlist_value: KeyValueList { repeated KeyValue values = 1 }
          expectWireType(path, field, wt, WireType.LEN);
          const listEnd = c.lengthDelimitedEnd();
          c.end = listEnd;
          let i = 0;
          while (c.pos < listEnd) {
            const t = c.uint32();
            if (t >>> 3 === 1) {
              expectWireType(path, 1, t & 7, WireType.LEN);
              const e = c.lengthDelimitedEnd();
              if (field === 5) this.walkAnyValue(e, `${path}[${i}]`, depth + 1);
              else this.walkKeyValue(e, `${path}.${i}`, depth + 1, false);
              c.end = listEnd;
              i++;
            } else {
              if (t >>> 3 === 0) fail(path, "field number 0 is invalid");
              c.skip(t & 7);
            }
          }
          c.end = end;
          break;
        }
        case 7: // bytes_value
          expectWireType(path, 7, wt, WireType.LEN);
          c.pos = c.lengthDelimitedEnd();
          break;
        default:
          if (field === 0) fail(path, "field number 0 is invalid");
          c.skip(wt);
      }
    }
  }

  /** Validates UTF-8 of the string at [pos, end) and moves past it. */
  private checkString(end: number, path: string): void {
    const c = this.c;
    if (this.validateUtf8 && end > c.pos && !isUtf8(c.buf.subarray(c.pos, end))) {
      fail(path, "string is not valid UTF-8");
    }
    c.pos = end;
  }
}

function bytesEqualAt(buf: Uint8Array, start: number, end: number, want: Uint8Array): boolean {
  if (end - start !== want.length) return false;
  for (let i = 0; i < want.length; i++) if (buf[start + i] !== want[i]) return false;
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
