/**
 * OTLP/HTTP JSON logs to the protobuf encoding of ExportLogsServiceRequest,
 * in one pass: JSON.parse, then a walk over the parsed objects that writes
 * wire bytes directly. The rest of the gateway only ever sees protobuf, so
 * JSON costs one conversion at the edge and nothing after.
 *
 * Fields are written in field-number order with proto3 defaults omitted,
 * which makes the output byte-identical to what protobuf-es `toBinary`
 * produces for the same message.
 */

import { ErrorCode, SluiceError } from "../../core/errors.js";
import { type Int64Parts, ProtoWriter, parseDecimal64, splitNumber64 } from "../../core/protowire/writer.js";

type JsonObject = Record<string, unknown>;

/**
 * AnyValue nesting limit. Each level costs two or three protobuf message
 * levels, so 32 keeps the output under the default recursion limit (100)
 * of the C++ and Java decoders, and keeps this walk far from the JS stack limit.
 */
export const MAX_VALUE_DEPTH = 32;

export interface OtlpJsonLogsConversion {
  /** The ExportLogsServiceRequest in protobuf wire format. */
  bytes: Uint8Array;
  /** How many LogRecords the request holds. */
  logRecordCount: number;
}

/** A data-model violation; the path is built outward as the error unwinds. */
class DataError extends Error {
  path: string;
  constructor(path: string, detail: string) {
    super(detail);
    this.path = path;
  }
}

function within(err: unknown, segment: string): unknown {
  if (err instanceof DataError) err.path = segment + err.path;
  return err;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  switch (typeof v) {
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "boolean":
      return "a boolean";
    default:
      return "an object";
  }
}

/** Which spelling of a field the client used, for error paths only. */
function keyOf(o: JsonObject, camel: string, snake: string): string {
  return o[camel] !== undefined ? camel : snake;
}

function typeError(o: JsonObject, camel: string, snake: string, expected: string, got: unknown): DataError {
  return new DataError(`.${keyOf(o, camel, snake)}`, `expected ${expected}, got ${describe(got)}`);
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function expectObject(v: unknown): JsonObject {
  if (!isObject(v)) throw new DataError("", `expected an object, got ${describe(v)}`);
  return v;
}

const parts: Int64Parts = { lo: 0, hi: 0 };

const SEVERITY_NUMBERS = new Map<string, number>([["SEVERITY_NUMBER_UNSPECIFIED", 0]]);
["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"].forEach((level, i) => {
  ["", "2", "3", "4"].forEach((suffix, j) => {
    SEVERITY_NUMBERS.set(`SEVERITY_NUMBER_${level}${suffix}`, i * 4 + j + 1);
  });
});

const DOUBLE_SYNTAX = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

function writeString(w: ProtoWriter, field: number, v: unknown, o: JsonObject, camel: string, snake: string) {
  if (v === undefined || v === null) return;
  if (typeof v !== "string") throw typeError(o, camel, snake, "a string", v);
  if (v.length !== 0) w.string(field, v);
}

/** uint32 and fixed32 fields: a JSON number or a decimal string. */
function toUint32(v: unknown, o: JsonObject, camel: string, snake: string): number {
  if (typeof v === "number") {
    if (Number.isInteger(v) && v >= 0 && v <= 0xffffffff) return v;
  } else if (typeof v === "string") {
    if (parseDecimal64(v, false, parts) && parts.hi === 0) return parts.lo;
  } else {
    throw typeError(o, camel, snake, "an integer", v);
  }
  throw new DataError(`.${keyOf(o, camel, snake)}`, "expected an integer in 0..4294967295");
}

function writeUint32(w: ProtoWriter, field: number, v: unknown, o: JsonObject, camel: string, snake: string) {
  if (v === undefined || v === null) return;
  const n = toUint32(v, o, camel, snake);
  if (n !== 0) w.uint32(field, n);
}

function writeFixed32(
  w: ProtoWriter,
  field: number,
  v: unknown,
  o: JsonObject,
  camel: string,
  snake: string,
) {
  if (v === undefined || v === null) return;
  const n = toUint32(v, o, camel, snake);
  if (n !== 0) w.fixed32(field, n);
}

/** Unsigned 64-bit timestamps. Numbers past 2^53 already lost digits in JSON.parse. */
function writeFixed64(
  w: ProtoWriter,
  field: number,
  v: unknown,
  o: JsonObject,
  camel: string,
  snake: string,
) {
  if (v === undefined || v === null) return;
  let ok: boolean;
  if (typeof v === "string") ok = parseDecimal64(v, false, parts);
  else if (typeof v === "number") ok = splitNumber64(v, false, parts);
  else throw typeError(o, camel, snake, "an integer or a decimal string", v);
  if (!ok) {
    throw new DataError(
      `.${keyOf(o, camel, snake)}`,
      "expected an unsigned 64-bit integer or decimal string",
    );
  }
  if ((parts.lo | parts.hi) !== 0) w.fixed64Parts(field, parts.lo, parts.hi);
}

function writeSeverity(w: ProtoWriter, v: unknown, o: JsonObject) {
  if (v === undefined || v === null) return;
  let n: number | undefined;
  if (typeof v === "number") {
    // Open enum: unknown numbers pass through, but only those an int32 enum can hold
    // and that the OTLP data model (no negative severities) allows.
    if (Number.isInteger(v) && v >= 0 && v <= 0x7fffffff) n = v;
  } else if (typeof v === "string") {
    n = SEVERITY_NUMBERS.get(v);
  } else {
    throw typeError(o, "severityNumber", "severity_number", "an integer or a SeverityNumber name", v);
  }
  if (n === undefined) {
    throw new DataError(
      `.${keyOf(o, "severityNumber", "severity_number")}`,
      "expected a SeverityNumber name or an integer in 0..2147483647",
    );
  }
  if (n !== 0) w.uint32(2, n);
}

function writeId(w: ProtoWriter, field: number, v: unknown, o: JsonObject, camel: string, snake: string) {
  if (v === undefined || v === null) return;
  if (typeof v !== "string") throw typeError(o, camel, snake, "a hex string", v);
  if (v.length === 0) return;
  const hexLength = field === 9 ? 32 : 16;
  if (v.length !== hexLength || !w.bytesFromHex(field, v)) {
    throw new DataError(`.${keyOf(o, camel, snake)}`, `expected ${hexLength} hex characters`);
  }
}

function writeAnyValue(w: ProtoWriter, field: number, raw: unknown, depth: number): void {
  const v = expectObject(raw);
  if (depth > MAX_VALUE_DEPTH) throw new DataError("", `values nest deeper than ${MAX_VALUE_DEPTH} levels`);
  w.beginMessage(field);
  // AnyValue objects carry one key (plus any unknown ones), so walking the keys
  // is cheaper than probing fourteen spellings, and it sees a second member.
  let member = "";
  let segment = "";
  try {
    for (const k in v) {
      const x = v[k];
      if (x === null || x === undefined) continue;
      switch (k) {
        case "stringValue":
        case "string_value":
          if (member !== "") break;
          member = k;
          if (typeof x !== "string") throw new DataError(`.${k}`, `expected a string, got ${describe(x)}`);
          w.string(1, x);
          continue;
        case "boolValue":
        case "bool_value":
          if (member !== "") break;
          member = k;
          if (typeof x !== "boolean") throw new DataError(`.${k}`, `expected a boolean, got ${describe(x)}`);
          w.bool(2, x);
          continue;
        case "intValue":
        case "int_value": {
          if (member !== "") break;
          member = k;
          let ok: boolean;
          if (typeof x === "string") ok = parseDecimal64(x, true, parts);
          else if (typeof x === "number") ok = splitNumber64(x, true, parts);
          else throw new DataError(`.${k}`, `expected an integer or a decimal string, got ${describe(x)}`);
          if (!ok) throw new DataError(`.${k}`, "expected a signed 64-bit integer or decimal string");
          w.varint64Parts(3, parts.lo, parts.hi);
          continue;
        }
        case "doubleValue":
        case "double_value":
          if (member !== "") break;
          member = k;
          w.double(4, toDouble(x, k));
          continue;
        case "arrayValue":
        case "array_value":
          if (member !== "") break;
          member = k;
          segment = `.${k}`;
          writeValueList(w, 5, x, depth, false);
          segment = "";
          continue;
        case "kvlistValue":
        case "kvlist_value":
          if (member !== "") break;
          member = k;
          segment = `.${k}`;
          writeValueList(w, 6, x, depth, true);
          segment = "";
          continue;
        case "bytesValue":
        case "bytes_value":
          if (member !== "") break;
          member = k;
          if (typeof x !== "string")
            throw new DataError(`.${k}`, `expected a base64 string, got ${describe(x)}`);
          if (!w.bytesFromBase64(7, x)) throw new DataError(`.${k}`, "expected base64");
          continue;
        default:
          // Unknown keys are ignored, as OTLP requires of receivers.
          continue;
      }
      throw new DataError(`.${k}`, `value already set by ${member}`);
    }
  } catch (err) {
    throw within(err, segment);
  }
  w.endMessage();
}

function toDouble(x: unknown, k: string): number {
  if (typeof x === "number") return x;
  if (typeof x === "string") {
    if (x === "NaN") return Number.NaN;
    if (x === "Infinity") return Number.POSITIVE_INFINITY;
    if (x === "-Infinity") return Number.NEGATIVE_INFINITY;
    // Protobuf JSON also allows a number inside a string.
    if (DOUBLE_SYNTAX.test(x)) {
      const n = Number(x);
      if (Number.isFinite(n)) return n;
    }
    throw new DataError(`.${k}`, 'expected a number, "NaN", "Infinity" or "-Infinity"');
  }
  throw new DataError(`.${k}`, `expected a number, got ${describe(x)}`);
}

/** ArrayValue or KeyValueList: `{"values": [...]}`. */
function writeValueList(w: ProtoWriter, field: number, raw: unknown, depth: number, keyed: boolean): void {
  const o = expectObject(raw);
  w.beginMessage(field);
  const values = o.values;
  if (values !== undefined && values !== null) {
    if (!Array.isArray(values)) throw new DataError(".values", `expected an array, got ${describe(values)}`);
    let i = 0;
    try {
      if (keyed) for (; i < values.length; i++) writeKeyValue(w, 1, values[i], depth + 1);
      else for (; i < values.length; i++) writeAnyValue(w, 1, values[i], depth + 1);
    } catch (err) {
      throw within(err, `.values[${i}]`);
    }
  }
  w.endMessage();
}

function writeKeyValue(w: ProtoWriter, field: number, raw: unknown, depth: number): void {
  const kv = expectObject(raw);
  w.beginMessage(field);
  const key = kv.key;
  if (key !== undefined && key !== null) {
    if (typeof key !== "string") throw new DataError(".key", `expected a string, got ${describe(key)}`);
    if (key.length !== 0) w.string(1, key);
  }
  const value = kv.value;
  if (value !== undefined && value !== null) {
    try {
      writeAnyValue(w, 2, value, depth);
    } catch (err) {
      throw within(err, ".value");
    }
  }
  w.endMessage();
}

function writeAttributes(w: ProtoWriter, field: number, v: unknown): void {
  if (v === undefined || v === null) return;
  if (!Array.isArray(v)) throw new DataError(".attributes", `expected an array, got ${describe(v)}`);
  let i = 0;
  try {
    for (; i < v.length; i++) writeKeyValue(w, field, v[i], 1);
  } catch (err) {
    throw within(err, `.attributes[${i}]`);
  }
}

function arrayField(o: JsonObject, v: unknown, camel: string, snake: string): unknown[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw typeError(o, camel, snake, "an array", v);
  return v;
}

function writeLogRecord(w: ProtoWriter, raw: unknown): void {
  const r = expectObject(raw);
  // Typical records are 128 B to 16 KiB: a two-byte length.
  w.beginMessage(2, 2);
  let v = r.timeUnixNano;
  if (v === undefined) v = r.time_unix_nano;
  writeFixed64(w, 1, v, r, "timeUnixNano", "time_unix_nano");
  v = r.severityNumber;
  if (v === undefined) v = r.severity_number;
  writeSeverity(w, v, r);
  v = r.severityText;
  if (v === undefined) v = r.severity_text;
  writeString(w, 3, v, r, "severityText", "severity_text");
  v = r.body;
  if (v !== undefined && v !== null) {
    try {
      writeAnyValue(w, 5, v, 1);
    } catch (err) {
      throw within(err, ".body");
    }
  }
  writeAttributes(w, 6, r.attributes);
  v = r.droppedAttributesCount;
  if (v === undefined) v = r.dropped_attributes_count;
  writeUint32(w, 7, v, r, "droppedAttributesCount", "dropped_attributes_count");
  writeFixed32(w, 8, r.flags, r, "flags", "flags");
  v = r.traceId;
  if (v === undefined) v = r.trace_id;
  writeId(w, 9, v, r, "traceId", "trace_id");
  v = r.spanId;
  if (v === undefined) v = r.span_id;
  writeId(w, 10, v, r, "spanId", "span_id");
  v = r.observedTimeUnixNano;
  if (v === undefined) v = r.observed_time_unix_nano;
  writeFixed64(w, 11, v, r, "observedTimeUnixNano", "observed_time_unix_nano");
  v = r.eventName;
  if (v === undefined) v = r.event_name;
  writeString(w, 12, v, r, "eventName", "event_name");
  w.endMessage();
}

function writeScope(w: ProtoWriter, raw: unknown): void {
  const s = expectObject(raw);
  w.beginMessage(1);
  writeString(w, 1, s.name, s, "name", "name");
  writeString(w, 2, s.version, s, "version", "version");
  writeAttributes(w, 3, s.attributes);
  let v = s.droppedAttributesCount;
  if (v === undefined) v = s.dropped_attributes_count;
  writeUint32(w, 4, v, s, "droppedAttributesCount", "dropped_attributes_count");
  w.endMessage();
}

/** Returns the number of log records written. */
function writeScopeLogs(w: ProtoWriter, raw: unknown): number {
  const sl = expectObject(raw);
  // Scope bodies hold whole batches: 16 KiB to 2 MiB is the common case.
  w.beginMessage(2, 3);
  let v = sl.scope;
  if (v !== undefined && v !== null) {
    try {
      writeScope(w, v);
    } catch (err) {
      throw within(err, ".scope");
    }
  }
  v = sl.logRecords;
  if (v === undefined) v = sl.log_records;
  const records = arrayField(sl, v, "logRecords", "log_records");
  let count = 0;
  if (records !== undefined) {
    let i = 0;
    try {
      for (; i < records.length; i++) writeLogRecord(w, records[i]);
    } catch (err) {
      throw within(err, `.${keyOf(sl, "logRecords", "log_records")}[${i}]`);
    }
    count = records.length;
  }
  v = sl.schemaUrl;
  if (v === undefined) v = sl.schema_url;
  writeString(w, 3, v, sl, "schemaUrl", "schema_url");
  w.endMessage();
  return count;
}

function writeEntityRef(w: ProtoWriter, raw: unknown): void {
  const e = expectObject(raw);
  w.beginMessage(3);
  let v = e.schemaUrl;
  if (v === undefined) v = e.schema_url;
  writeString(w, 1, v, e, "schemaUrl", "schema_url");
  writeString(w, 2, e.type, e, "type", "type");
  v = e.idKeys;
  if (v === undefined) v = e.id_keys;
  writeStringList(w, 3, arrayField(e, v, "idKeys", "id_keys"), e, "idKeys", "id_keys");
  v = e.descriptionKeys;
  if (v === undefined) v = e.description_keys;
  writeStringList(
    w,
    4,
    arrayField(e, v, "descriptionKeys", "description_keys"),
    e,
    "descriptionKeys",
    "description_keys",
  );
  w.endMessage();
}

function writeStringList(
  w: ProtoWriter,
  field: number,
  list: unknown[] | undefined,
  o: JsonObject,
  camel: string,
  snake: string,
): void {
  if (list === undefined) return;
  for (let i = 0; i < list.length; i++) {
    const s = list[i];
    if (typeof s !== "string") {
      throw new DataError(`.${keyOf(o, camel, snake)}[${i}]`, `expected a string, got ${describe(s)}`);
    }
    // Repeated elements are written even when empty: position carries meaning.
    w.string(field, s);
  }
}

function writeResource(w: ProtoWriter, raw: unknown): void {
  const r = expectObject(raw);
  w.beginMessage(1, 2);
  writeAttributes(w, 1, r.attributes);
  let v = r.droppedAttributesCount;
  if (v === undefined) v = r.dropped_attributes_count;
  writeUint32(w, 2, v, r, "droppedAttributesCount", "dropped_attributes_count");
  v = r.entityRefs;
  if (v === undefined) v = r.entity_refs;
  const refs = arrayField(r, v, "entityRefs", "entity_refs");
  if (refs !== undefined) {
    let i = 0;
    try {
      for (; i < refs.length; i++) writeEntityRef(w, refs[i]);
    } catch (err) {
      throw within(err, `.${keyOf(r, "entityRefs", "entity_refs")}[${i}]`);
    }
  }
  w.endMessage();
}

function writeResourceLogs(w: ProtoWriter, raw: unknown): number {
  const rl = expectObject(raw);
  w.beginMessage(1, 3);
  let v = rl.resource;
  if (v !== undefined && v !== null) {
    try {
      writeResource(w, v);
    } catch (err) {
      throw within(err, ".resource");
    }
  }
  v = rl.scopeLogs;
  if (v === undefined) v = rl.scope_logs;
  const scopes = arrayField(rl, v, "scopeLogs", "scope_logs");
  let count = 0;
  if (scopes !== undefined) {
    let i = 0;
    try {
      for (; i < scopes.length; i++) count += writeScopeLogs(w, scopes[i]);
    } catch (err) {
      throw within(err, `.${keyOf(rl, "scopeLogs", "scope_logs")}[${i}]`);
    }
  }
  v = rl.schemaUrl;
  if (v === undefined) v = rl.schema_url;
  writeString(w, 3, v, rl, "schemaUrl", "schema_url");
  w.endMessage();
  return count;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function parse(body: Uint8Array | string): unknown {
  let text: string;
  if (typeof body === "string") {
    text = body;
  } else {
    try {
      text = utf8.decode(body);
    } catch (err) {
      throw new SluiceError(ErrorCode.MALFORMED_PAYLOAD, "invalid JSON: the body is not valid UTF-8", {
        cause: err,
      });
    }
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new SluiceError(ErrorCode.MALFORMED_PAYLOAD, `invalid JSON: ${message}`, { cause: err });
  }
}

/**
 * Converts an OTLP/JSON ExportLogsServiceRequest to its protobuf encoding
 * and counts its log records.
 *
 * @throws SluiceError MALFORMED_PAYLOAD when the body is not UTF-8 JSON,
 *   INVALID_DATA (with a path such as `resourceLogs[0].scopeLogs[1].logRecords[3].traceId`)
 *   when it is JSON that breaks the OTLP data model. Neither is retryable.
 */
export function convertOtlpJsonLogs(body: Uint8Array | string): OtlpJsonLogsConversion {
  const root = parse(body);
  if (!isObject(root)) {
    throw new SluiceError(
      ErrorCode.INVALID_DATA,
      `expected a JSON object at the top level, got ${describe(root)}`,
    );
  }
  // The protobuf form is rarely larger than its JSON: ids halve, keys vanish.
  const w = new ProtoWriter(body.length + 256);
  let count = 0;
  let v = root.resourceLogs;
  if (v === undefined) v = root.resource_logs;
  try {
    const list = arrayField(root, v, "resourceLogs", "resource_logs");
    if (list !== undefined) {
      let i = 0;
      try {
        for (; i < list.length; i++) count += writeResourceLogs(w, list[i]);
      } catch (err) {
        throw within(err, `.${keyOf(root, "resourceLogs", "resource_logs")}[${i}]`);
      }
    }
  } catch (err) {
    if (err instanceof DataError) {
      throw new SluiceError(ErrorCode.INVALID_DATA, `${err.path.slice(1)}: ${err.message}`);
    }
    throw err;
  }
  return { bytes: w.finish(), logRecordCount: count };
}

/** Converts an OTLP/JSON ExportLogsServiceRequest to its protobuf encoding. */
export function otlpJsonLogsToProtobuf(body: Uint8Array | string): Uint8Array {
  return convertOtlpJsonLogs(body).bytes;
}
