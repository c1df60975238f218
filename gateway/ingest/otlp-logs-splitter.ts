/**
 * Walks an encoded ExportLogsServiceRequest without building objects:
 * checks every tag, length, wire type and UTF-8 string, reads the routing
 * key, and splits the records into groups (plain logs vs structured events,
 * by key), each an encoded ResourceLogs made of slices of the request.
 *
 * When a ResourceLogs needs no split, its group is the one slice that
 * arrived, so protobuf ingest copies the record bytes exactly once: into
 * the envelope.
 *
 * The walk makes no strings and no views per field: the path named in an
 * error ("resource_logs[0].scope_logs[1].log_records[7].body") is kept as a
 * stack of constant segments and turned into text only when the request is
 * refused, and UTF-8 is checked in place (see validUtf8).
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
const NO_WORDS: Int32Array = new Int32Array(0);

// Why a record is refused on its own, rather than failing the whole request.
const REJECT_NONE = 0;
const REJECT_TRACE_ID = 1;
const REJECT_SPAN_ID = 2;
const REJECT_REASONS: Record<number, { code: string; text: string }> = {
  [REJECT_TRACE_ID]: { code: "INVALID_TRACE_ID", text: "trace_id must be empty or exactly 16 bytes" },
  [REJECT_SPAN_ID]: { code: "INVALID_SPAN_ID", text: "span_id must be empty or exactly 8 bytes" },
};

// The steps of a path: a field (".name"), a field and its position (".name[i]"), a position in
// an array_value ("[i]"), or an entry of a kvlist_value (".i").
const SHAPE_FIELD = 0;
const SHAPE_FIELD_INDEX = 1;
const SHAPE_INDEX = 2;
const SHAPE_ENTRY = 3;
const STEPS: readonly (readonly [name: string, shape: number])[] = [
  ["resource_logs", SHAPE_FIELD_INDEX],
  ["resource", SHAPE_FIELD],
  ["attributes", SHAPE_FIELD_INDEX],
  ["entity_refs", SHAPE_FIELD],
  ["scope_logs", SHAPE_FIELD_INDEX],
  ["scope", SHAPE_FIELD],
  ["log_records", SHAPE_FIELD_INDEX],
  ["body", SHAPE_FIELD],
  ["value", SHAPE_FIELD],
  ["", SHAPE_INDEX],
  ["", SHAPE_ENTRY],
];
const STEP_RESOURCE_LOGS = 0;
const STEP_RESOURCE = 1;
const STEP_ATTRIBUTES = 2;
const STEP_ENTITY_REFS = 3;
const STEP_SCOPE_LOGS = 4;
const STEP_SCOPE = 5;
const STEP_LOG_RECORDS = 6;
const STEP_BODY = 7;
const STEP_VALUE = 8;
const STEP_ARRAY_ITEM = 9;
const STEP_KVLIST_ENTRY = 10;

/**
 * Where the walk is, as a stack of (step, index) numbers: pushing and
 * popping stores two integers, so only a refused request pays for the text.
 */
class WalkPath {
  depth = 0;
  private steps = new Int32Array(64);
  private indexes = new Int32Array(64);

  push(step: number, index: number): void {
    const d = this.depth++;
    if (d === this.steps.length) this.grow();
    this.steps[d] = step;
    this.indexes[d] = index;
  }

  pop(): void {
    this.depth--;
  }

  /** The path, with `leaf` (a field of the innermost message) appended when given. */
  text(leaf: string): string {
    let out = "";
    for (let d = 0; d < this.depth; d++) {
      const [name, shape] = STEPS[this.steps[d] as number] as readonly [string, number];
      const index = this.indexes[d] as number;
      const dot = d === 0 ? "" : ".";
      switch (shape) {
        case SHAPE_FIELD:
          out += `${dot}${name}`;
          break;
        case SHAPE_FIELD_INDEX:
          out += `${dot}${name}[${index}]`;
          break;
        case SHAPE_INDEX:
          out += `[${index}]`;
          break;
        default:
          out += `${dot}${index}`;
      }
    }
    if (leaf !== "") out += out === "" ? leaf : `.${leaf}`;
    return out === "" ? "request" : out;
  }

  private grow(): void {
    const steps = new Int32Array(this.steps.length * 2);
    const indexes = new Int32Array(this.indexes.length * 2);
    steps.set(this.steps);
    indexes.set(this.indexes);
    this.steps = steps;
    this.indexes = indexes;
  }
}

function expectWireType(path: WalkPath, field: number, got: number, want: number): void {
  if (got !== want) fail(path, "", `field ${field} has wire type ${got}, expected ${want}`);
}

function fail(path: WalkPath, leaf: string, what: string): never {
  throw new WireError(`${path.text(leaf)}: ${what}`);
}

/**
 * The whole backing store of `bytes` as 32-bit words, for validUtf8; empty
 * (validUtf8 then leaves everything to isUtf8) when the store is too large
 * for 32-bit word arithmetic.
 */
export function wordsOf(bytes: Uint8Array): Int32Array {
  const store = bytes.buffer;
  return store.byteLength < 0x7fff_fff0 ? new Int32Array(store, 0, store.byteLength >>> 2) : NO_WORDS;
}

// Past this length one isUtf8 call costs less than the scan (they break even at 300-500 bytes).
const SCAN_MAX_BYTES = 256;

/**
 * Whether bytes[start, end) is valid UTF-8, judged exactly as isUtf8 judges
 * it. `words` must be wordsOf(bytes). A short string is scanned for bytes
 * >= 0x80 in place, four bytes at a time, without making a view; isUtf8 gets
 * a view only from the word holding the first such byte on. Everything
 * before that word is ASCII, so the view starts on a character boundary and
 * its answer is the answer for the whole string. Long strings go to isUtf8
 * whole.
 */
export function validUtf8(bytes: Uint8Array, words: Int32Array, start: number, end: number): boolean {
  if (end - start > SCAN_MAX_BYTES || words.length === 0) return isUtf8(bytes.subarray(start, end));
  const base = bytes.byteOffset;
  let i = start;
  // Bytes before the first 4-aligned address, one at a time.
  const aligned = Math.min(end, ((base + start + 3) & ~3) - base);
  for (; i < aligned; i++) {
    if ((bytes[i] as number) >= 0x80) return isUtf8(bytes.subarray(i, end));
  }
  // Whole words: four at a time until one holds a high bit, then one at a time.
  let w = (base + i) >> 2;
  const wordsEnd = (base + end) >> 2;
  for (; w + 3 < wordsEnd; w += 4) {
    const any =
      (words[w] as number) | (words[w + 1] as number) | (words[w + 2] as number) | (words[w + 3] as number);
    if (any & 0x80808080) break;
  }
  for (; w < wordsEnd; w++) {
    if ((words[w] as number) & 0x80808080) return isUtf8(bytes.subarray((w << 2) - base, end));
  }
  // The bytes after the last whole word.
  for (i = Math.max(i, (w << 2) - base); i < end; i++) {
    if ((bytes[i] as number) >= 0x80) return isUtf8(bytes.subarray(i, end));
  }
  return true;
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
  private readonly path = new WalkPath();
  private readonly records = new RecordTable();
  private scopes: ScopeInfo[] = [];
  // The request's backing store seen as 32-bit words, for the ASCII scan.
  private words: Int32Array = NO_WORDS;
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
    const path = this.path;
    path.depth = 0;
    this.words = wordsOf(request);
    c.reset(request, 0, request.length);
    try {
      let index = 0;
      while (c.pos < c.end) {
        const tag = c.uint32();
        const field = tag >>> 3;
        const wt = tag & 7;
        if (field === 1) {
          if (wt !== WireType.LEN) fail(path, "resource_logs", `field 1 has wire type ${wt}, expected 2`);
          const end = c.lengthDelimitedEnd();
          const start = c.pos;
          path.push(STEP_RESOURCE_LOGS, index);
          this.walkResourceLogs(request, start, end, result);
          path.pop();
          c.reset(request, end, request.length);
          index++;
        } else {
          if (field === 0) fail(path, "", "field number 0 is invalid");
          c.skip(wt);
        }
      }
    } finally {
      // Keep no reference to the request once it is walked.
      this.words = NO_WORDS;
      c.reset(EMPTY, 0, 0);
    }
    return result;
  }

  private walkResourceLogs(buf: Uint8Array, start: number, end: number, out: SplitResult): void {
    const c = this.c;
    const path = this.path;
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
        path.push(STEP_RESOURCE, 0);
        resourceKey = this.walkResource(e) ?? EMPTY;
        path.pop();
        c.pos = e;
        c.end = end;
      } else if (field === 2) {
        expectWireType(path, 2, wt, WireType.LEN);
        const e = c.lengthDelimitedEnd();
        path.push(STEP_SCOPE_LOGS, scopeIndex);
        this.walkScopeLogs(e, scopeIndex);
        path.pop();
        c.pos = e;
        c.end = end;
        scopeIndex++;
        continue;
      } else if (field === 3) {
        expectWireType(path, 3, wt, WireType.LEN);
        this.checkString(c.lengthDelimitedEnd(), "schema_url");
      } else {
        if (field === 0) fail(path, "", "field number 0 is invalid");
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
  private walkResource(end: number): Uint8Array | undefined {
    const c = this.c;
    const path = this.path;
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
        path.push(STEP_ATTRIBUTES, attr++);
        this.walkKeyValue(e, 0, true);
        path.pop();
        if (this.foundKey !== undefined && key === undefined) key = this.foundKey;
        c.end = end;
      } else if (field === 2) {
        expectWireType(path, 2, wt, WireType.VARINT);
        c.skipVarint();
      } else if (field === 3) {
        expectWireType(path, 3, wt, WireType.LEN);
        const e = c.lengthDelimitedEnd();
        path.push(STEP_ENTITY_REFS, 0);
        this.walkEntityRef(e);
        path.pop();
        c.end = end;
      } else {
        if (field === 0) fail(path, "", "field number 0 is invalid");
        c.skip(wt);
      }
    }
    return key;
  }

  private walkEntityRef(end: number): void {
    const c = this.c;
    const path = this.path;
    c.end = end;
    while (c.pos < end) {
      const tag = c.uint32();
      const field = tag >>> 3;
      const wt = tag & 7;
      if (field >= 1 && field <= 4) {
        expectWireType(path, field, wt, WireType.LEN);
        this.checkString(c.lengthDelimitedEnd(), "");
        c.end = end;
      } else {
        if (field === 0) fail(path, "", "field number 0 is invalid");
        c.skip(wt);
      }
    }
  }

  private walkScopeLogs(end: number, scopeIndex: number): void {
    const c = this.c;
    const path = this.path;
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
        path.push(STEP_LOG_RECORDS, recordIndex++);
        this.walkLogRecord(fieldStart, e, scopeIndex);
        path.pop();
        c.pos = e;
        c.end = end;
        continue;
      }
      if (field === 1) {
        expectWireType(path, 1, wt, WireType.LEN);
        const e = c.lengthDelimitedEnd();
        path.push(STEP_SCOPE, 0);
        this.walkScope(e);
        path.pop();
        c.end = end;
      } else if (field === 3) {
        expectWireType(path, 3, wt, WireType.LEN);
        this.checkString(c.lengthDelimitedEnd(), "schema_url");
      } else {
        if (field === 0) fail(path, "", "field number 0 is invalid");
        c.skip(wt);
      }
      const piece = buf.subarray(fieldStart, c.pos);
      info.other.push(piece);
      info.otherLength += piece.length;
    }
  }

  private walkScope(end: number): void {
    const c = this.c;
    const path = this.path;
    c.end = end;
    let attr = 0;
    while (c.pos < end) {
      const tag = c.uint32();
      const field = tag >>> 3;
      const wt = tag & 7;
      if (field === 1 || field === 2) {
        expectWireType(path, field, wt, WireType.LEN);
        this.checkString(c.lengthDelimitedEnd(), "");
      } else if (field === 3) {
        expectWireType(path, 3, wt, WireType.LEN);
        const e = c.lengthDelimitedEnd();
        path.push(STEP_ATTRIBUTES, attr++);
        this.walkKeyValue(e, 0, false);
        path.pop();
        c.end = end;
      } else if (field === 4) {
        expectWireType(path, 4, wt, WireType.VARINT);
        c.skipVarint();
      } else {
        if (field === 0) fail(path, "", "field number 0 is invalid");
        c.skip(wt);
      }
    }
  }

  /** recordStart is where the record's tag begins, so the slice carries its own framing. */
  private walkLogRecord(recordStart: number, end: number, scopeIndex: number): void {
    const c = this.c;
    const path = this.path;
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
          this.checkString(c.lengthDelimitedEnd(), "severity_text");
          break;
        case 5: {
          expectWireType(path, 5, wt, WireType.LEN);
          const e = c.lengthDelimitedEnd();
          path.push(STEP_BODY, 0);
          this.walkAnyValue(e, 0);
          path.pop();
          c.end = end;
          break;
        }
        case 6: {
          expectWireType(path, 6, wt, WireType.LEN);
          const e = c.lengthDelimitedEnd();
          this.foundKey = undefined;
          path.push(STEP_ATTRIBUTES, attr++);
          this.walkKeyValue(e, 0, byRecord);
          path.pop();
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
          this.checkString(e, "event_name");
          break;
        }
        default:
          if (field === 0) fail(path, "", "field number 0 is invalid");
          c.skip(wt);
      }
    }
    // An unset slot (undefined) means "take the resource's key" once it is known.
    this.records.push(recordStart, end, scopeIndex, isEvent, reject, key as Uint8Array);
  }

  /** Validates a KeyValue; when matchKey, records the value of the key attribute in foundKey. */
  private walkKeyValue(end: number, depth: number, matchKey: boolean): void {
    const c = this.c;
    const path = this.path;
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
        this.checkString(e, "key");
      } else if (field === 2) {
        expectWireType(path, 2, wt, WireType.LEN);
        const e = c.lengthDelimitedEnd();
        valueStart = c.pos;
        valueEnd = e;
        path.push(STEP_VALUE, 0);
        this.walkAnyValue(e, depth + 1);
        path.pop();
        c.end = end;
      } else {
        if (field === 0) fail(path, "", "field number 0 is invalid");
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

  private walkAnyValue(end: number, depth: number): void {
    const path = this.path;
    if (depth > MAX_ANYVALUE_DEPTH) fail(path, "", `values nested deeper than ${MAX_ANYVALUE_DEPTH} levels`);
    const c = this.c;
    c.end = end;
    while (c.pos < end) {
      const tag = c.uint32();
      const field = tag >>> 3;
      const wt = tag & 7;
      switch (field) {
        case 1: // string_value
          expectWireType(path, 1, wt, WireType.LEN);
          this.checkString(c.lengthDelimitedEnd(), "");
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
              if (field === 5) {
                path.push(STEP_ARRAY_ITEM, i);
                this.walkAnyValue(e, depth + 1);
              } else {
                path.push(STEP_KVLIST_ENTRY, i);
                this.walkKeyValue(e, depth + 1, false);
              }
              path.pop();
              c.end = listEnd;
              i++;
            } else {
              if (t >>> 3 === 0) fail(path, "", "field number 0 is invalid");
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
          if (field === 0) fail(path, "", "field number 0 is invalid");
          c.skip(wt);
      }
    }
  }

  /** Validates UTF-8 of the string at [pos, end) and moves past it; `field` names it in an error. */
  private checkString(end: number, field: string): void {
    const c = this.c;
    if (this.validateUtf8 && end > c.pos && !validUtf8(c.buf, this.words, c.pos, end)) {
      fail(this.path, field, "string is not valid UTF-8");
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
