import { create, equals, fromBinary, type MessageInitShape, toBinary, toJson } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ErrorCode, SluiceError } from "../../core/errors.js";
import {
  type ExportLogsServiceRequest,
  ExportLogsServiceRequestSchema,
} from "../../proto/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js";
import type { AnyValue, KeyValue } from "../../proto/gen/opentelemetry/proto/common/v1/common_pb.js";
import { AnyValueSchema } from "../../proto/gen/opentelemetry/proto/common/v1/common_pb.js";
import { convertOtlpJsonLogs, MAX_VALUE_DEPTH, otlpJsonLogsToProtobuf } from "./otlp-json-to-protobuf.js";

type RequestInit = MessageInitShape<typeof ExportLogsServiceRequestSchema>;
type AnyValueInit = MessageInitShape<typeof AnyValueSchema>;

const TRACE_ID_HEX = "5b8efff798038103d269b633813fc60c";
const SPAN_ID_HEX = "eee19b7ec3c1b174";

function request(init: RequestInit): ExportLogsServiceRequest {
  return create(ExportLogsServiceRequestSchema, init);
}

/** A request holding one log record with the given fields. */
function oneRecord(record: Record<string, unknown>): string {
  return JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [record] }] }] });
}

function recordRequest(record: NonNullable<RequestInit["resourceLogs"]>[number]["scopeLogs"]) {
  return request({ resourceLogs: [{ scopeLogs: record ?? [] }] });
}

function oneRecordRequest(
  record: NonNullable<
    NonNullable<NonNullable<RequestInit["resourceLogs"]>[number]["scopeLogs"]>[number]["logRecords"]
  >[number],
): ExportLogsServiceRequest {
  return recordRequest([{ logRecords: [record] }]);
}

function bodyRequest(body: AnyValueInit): ExportLogsServiceRequest {
  return oneRecordRequest({ body });
}

function bodyJson(body: unknown): string {
  return oneRecord({ body });
}

function expectBytes(got: Uint8Array, want: Uint8Array, label = ""): void {
  if (Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(want)) return;
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  expect.fail(`${label} bytes differ at ${i} (lengths ${got.length} and ${want.length})`);
}

/**
 * The JSON converts to exactly what protobuf-es encodes for `expected`, and
 * decodes back to a message equal to it.
 */
function expectConverts(json: string | Uint8Array, expected: ExportLogsServiceRequest): void {
  const bytes = otlpJsonLogsToProtobuf(json);
  expectBytes(bytes, toBinary(ExportLogsServiceRequestSchema, expected));
  const decoded = fromBinary(ExportLogsServiceRequestSchema, bytes);
  expect(equals(ExportLogsServiceRequestSchema, decoded, expected)).toBe(true);
}

function catchError(fn: () => unknown): SluiceError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SluiceError);
    return err as SluiceError;
  }
  return expect.fail("expected an error");
}

function expectInvalid(json: string, message: string): void {
  const err = catchError(() => otlpJsonLogsToProtobuf(json));
  expect(err.code).toBe(ErrorCode.INVALID_DATA);
  expect(err.retryable).toBe(false);
  expect(err.message).toBe(message);
}

/** OTLP/JSON for a message: protobuf JSON, except ids are hex, not base64. */
function toOtlpJson(
  msg: ExportLogsServiceRequest,
  options: { snake?: boolean; enumAsInteger?: boolean; upperHex?: boolean } = {},
): string {
  const json = toJson(ExportLogsServiceRequestSchema, msg, {
    useProtoFieldName: options.snake ?? false,
    enumAsInteger: options.enumAsInteger ?? false,
  });
  const idKeys = new Set(["traceId", "spanId", "trace_id", "span_id"]);
  const fix = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) fix(item);
    } else if (typeof node === "object" && node !== null) {
      const o = node as Record<string, unknown>;
      for (const [k, v] of Object.entries(o)) {
        if (idKeys.has(k) && typeof v === "string") {
          const hex = Buffer.from(v, "base64").toString("hex");
          o[k] = options.upperHex ? hex.toUpperCase() : hex;
        } else {
          fix(v);
        }
      }
    }
  };
  fix(json);
  return JSON.stringify(json);
}

/** Deterministic PRNG so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomRequest(seed: number, size: number): ExportLogsServiceRequest {
  const next = rng(seed);
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const alphabet = [
    "a",
    "Z",
    "0",
    " ",
    "-",
    "é",
    "ß",
    "日",
    "本",
    "€",
    "🎉",
    "😀",
    '"',
    "\\",
    "\n",
    "\u0000",
  ];
  const text = (max: number): string => {
    const n = int(max);
    let s = "";
    const ascii = next() < 0.6;
    for (let i = 0; i < n; i++) s += ascii ? String.fromCharCode(32 + int(95)) : pick(alphabet);
    return s;
  };
  const bigint64 = (): bigint => {
    switch (int(4)) {
      case 0:
        return BigInt(int(1000)) - 500n;
      case 1:
        return BigInt.asIntN(64, BigInt(int(2 ** 32)) * BigInt(int(2 ** 32)) + BigInt(int(2 ** 32)));
      case 2:
        return pick([-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 0n]);
      default:
        return BigInt(int(2 ** 31));
    }
  };
  const value = (depth: number): AnyValueInit => {
    const kinds = depth < 3 ? 8 : 6;
    switch (int(kinds)) {
      case 0:
        return { value: { case: "stringValue", value: text(40) } };
      case 1:
        return { value: { case: "boolValue", value: next() < 0.5 } };
      case 2:
        return { value: { case: "intValue", value: bigint64() } };
      case 3:
        return {
          value: { case: "doubleValue", value: pick([0, -1.5, 2.71, 1e300, -2.5e-300, 42, next() * 1e6]) },
        };
      case 4:
        return { value: { case: "bytesValue", value: new Uint8Array(int(40)).map(() => int(256)) } };
      case 5:
        return {};
      case 6:
        return {
          value: {
            case: "arrayValue",
            value: { values: Array.from({ length: int(4) }, () => value(depth + 1)) },
          },
        };
      default:
        return { value: { case: "kvlistValue", value: { values: attributes(depth + 1, 4) } } };
    }
  };
  const attributes = (depth: number, max: number) =>
    Array.from({ length: int(max) }, () => ({ key: text(12), value: value(depth) }));
  const id = (n: number) => (next() < 0.2 ? new Uint8Array(0) : new Uint8Array(n).map(() => int(256)));
  const u64 = () => (next() < 0.2 ? 0n : BigInt.asUintN(64, bigint64()));
  return request({
    resourceLogs: Array.from({ length: 1 + int(3) }, () => ({
      resource:
        next() < 0.2
          ? undefined
          : {
              attributes: attributes(1, 5),
              droppedAttributesCount: int(3),
              entityRefs:
                next() < 0.5
                  ? []
                  : [
                      {
                        schemaUrl: text(20),
                        type: text(8),
                        idKeys: [text(5), ""],
                        descriptionKeys: [text(5)],
                      },
                    ],
            },
      schemaUrl: text(30),
      scopeLogs: Array.from({ length: 1 + int(3) }, () => ({
        scope:
          next() < 0.2
            ? undefined
            : {
                name: text(20),
                version: text(6),
                attributes: attributes(1, 3),
                droppedAttributesCount: int(2),
              },
        schemaUrl: text(30),
        logRecords: Array.from({ length: int(size) }, () => ({
          timeUnixNano: u64(),
          observedTimeUnixNano: u64(),
          severityNumber: int(25),
          severityText: pick(["", "INFO", "warn", "Error"]),
          body: next() < 0.1 ? undefined : value(1),
          attributes: attributes(1, 8),
          droppedAttributesCount: next() < 0.8 ? 0 : int(2 ** 32),
          flags: next() < 0.5 ? 0 : int(2 ** 32),
          traceId: id(16),
          spanId: id(8),
          eventName: next() < 0.7 ? "" : text(20),
        })),
      })),
    })),
  });
}

describe("otlpJsonLogsToProtobuf: a complete request", () => {
  const expected = request({
    resourceLogs: [
      {
        resource: {
          attributes: [
            { key: "service.name", value: { value: { case: "stringValue", value: "checkout" } } },
            { key: "host.cpus", value: { value: { case: "intValue", value: 8n } } },
          ],
          droppedAttributesCount: 1,
          entityRefs: [
            {
              schemaUrl: "https://opentelemetry.io/schemas/1.26.0",
              type: "service",
              idKeys: ["service.name", "service.namespace"],
              descriptionKeys: ["service.version"],
            },
          ],
        },
        schemaUrl: "https://opentelemetry.io/schemas/1.26.0",
        scopeLogs: [
          {
            scope: {
              name: "io.sluice.test",
              version: "1.2.3",
              attributes: [{ key: "scope.attr", value: { value: { case: "boolValue", value: true } } }],
              droppedAttributesCount: 2,
            },
            schemaUrl: "https://scope.example/schema",
            logRecords: [
              {
                timeUnixNano: 1700000000123456789n,
                observedTimeUnixNano: 1700000000987654321n,
                severityNumber: 9,
                severityText: "INFO",
                body: { value: { case: "stringValue", value: "user logged in" } },
                attributes: [
                  { key: "user.id", value: { value: { case: "intValue", value: -42n } } },
                  { key: "ratio", value: { value: { case: "doubleValue", value: 0.25 } } },
                  {
                    key: "raw",
                    value: { value: { case: "bytesValue", value: new Uint8Array([0, 1, 254, 255]) } },
                  },
                  {
                    key: "tags",
                    value: {
                      value: {
                        case: "arrayValue",
                        value: {
                          values: [
                            { value: { case: "stringValue", value: "a" } },
                            { value: { case: "intValue", value: 9223372036854775807n } },
                            {
                              value: {
                                case: "kvlistValue",
                                value: {
                                  values: [
                                    { key: "nested", value: { value: { case: "boolValue", value: false } } },
                                  ],
                                },
                              },
                            },
                          ],
                        },
                      },
                    },
                  },
                ],
                droppedAttributesCount: 3,
                flags: 1,
                traceId: Buffer.from(TRACE_ID_HEX, "hex"),
                spanId: Buffer.from(SPAN_ID_HEX, "hex"),
                eventName: "user.login",
              },
              {
                timeUnixNano: 1n,
                severityNumber: 17,
                body: { value: { case: "stringValue", value: "second" } },
              },
            ],
          },
        ],
      },
    ],
  });

  const json = JSON.stringify({
    resourceLogs: [
      {
        resource: {
          attributes: [
            { key: "service.name", value: { stringValue: "checkout" } },
            { key: "host.cpus", value: { intValue: "8" } },
          ],
          droppedAttributesCount: 1,
          entityRefs: [
            {
              schemaUrl: "https://opentelemetry.io/schemas/1.26.0",
              type: "service",
              idKeys: ["service.name", "service.namespace"],
              descriptionKeys: ["service.version"],
            },
          ],
        },
        scopeLogs: [
          {
            scope: {
              name: "io.sluice.test",
              version: "1.2.3",
              attributes: [{ key: "scope.attr", value: { boolValue: true } }],
              droppedAttributesCount: 2,
            },
            logRecords: [
              {
                // Keys deliberately out of field-number order.
                eventName: "user.login",
                spanId: SPAN_ID_HEX,
                traceId: TRACE_ID_HEX,
                flags: 1,
                droppedAttributesCount: 3,
                attributes: [
                  { key: "user.id", value: { intValue: -42 } },
                  { key: "ratio", value: { doubleValue: 0.25 } },
                  { key: "raw", value: { bytesValue: "AAH+/w==" } },
                  {
                    key: "tags",
                    value: {
                      arrayValue: {
                        values: [
                          { stringValue: "a" },
                          { intValue: "9223372036854775807" },
                          { kvlistValue: { values: [{ key: "nested", value: { boolValue: false } }] } },
                        ],
                      },
                    },
                  },
                ],
                body: { stringValue: "user logged in" },
                severityText: "INFO",
                severityNumber: 9,
                observedTimeUnixNano: "1700000000987654321",
                timeUnixNano: "1700000000123456789",
              },
              { timeUnixNano: 1, severityNumber: "SEVERITY_NUMBER_ERROR", body: { stringValue: "second" } },
            ],
            schemaUrl: "https://scope.example/schema",
          },
        ],
        schemaUrl: "https://opentelemetry.io/schemas/1.26.0",
      },
    ],
  });

  it("produces exactly the bytes protobuf-es writes, fields in field-number order", () => {
    expectConverts(json, expected);
  });

  it("accepts the body as UTF-8 bytes, with or without a byte order mark", () => {
    expectConverts(new TextEncoder().encode(json), expected);
    expectConverts(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]), expected);
  });

  it("counts log records", () => {
    const result = convertOtlpJsonLogs(json);
    expect(result.logRecordCount).toBe(2);
    expectBytes(result.bytes, toBinary(ExportLogsServiceRequestSchema, expected));
  });

  it("accepts the proto field names (snake_case) as well", () => {
    expectConverts(toOtlpJson(expected, { snake: true }), expected);
  });

  it("accepts upper-case hex ids", () => {
    expectConverts(toOtlpJson(expected, { upperHex: true }), expected);
    expectConverts(json.replace(TRACE_ID_HEX, "5B8eFFF798038103D269b633813FC60C"), expected);
  });
});

describe("otlpJsonLogsToProtobuf: random requests", () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`matches protobuf-es byte for byte (seed ${seed})`, () => {
      const msg = randomRequest(seed, 40);
      expectConverts(toOtlpJson(msg), msg);
      expectConverts(toOtlpJson(msg, { snake: true, enumAsInteger: true, upperHex: true }), msg);
      const count = msg.resourceLogs.reduce(
        (n, rl) => n + rl.scopeLogs.reduce((m, sl) => m + sl.logRecords.length, 0),
        0,
      );
      expect(convertOtlpJsonLogs(toOtlpJson(msg)).logRecordCount).toBe(count);
    });
  }

  it("handles a request of several megabytes (multi-byte lengths everywhere)", () => {
    const msg = randomRequest(99, 4000);
    const json = toOtlpJson(msg);
    expect(json.length).toBeGreaterThan(2 * 1024 * 1024);
    expectConverts(json, msg);
  });
});

describe("otlpJsonLogsToProtobuf: AnyValue", () => {
  it("writes every value type", () => {
    const cases: [unknown, AnyValueInit][] = [
      [{ stringValue: "hello" }, { value: { case: "stringValue", value: "hello" } }],
      [{ boolValue: true }, { value: { case: "boolValue", value: true } }],
      [{ intValue: 7 }, { value: { case: "intValue", value: 7n } }],
      [{ intValue: "7" }, { value: { case: "intValue", value: 7n } }],
      [{ doubleValue: 1.5 }, { value: { case: "doubleValue", value: 1.5 } }],
      [{ doubleValue: "1.5" }, { value: { case: "doubleValue", value: 1.5 } }],
      [{ doubleValue: "-2e-3" }, { value: { case: "doubleValue", value: -0.002 } }],
      [{ doubleValue: 3 }, { value: { case: "doubleValue", value: 3 } }],
      [{ bytesValue: "aGk=" }, { value: { case: "bytesValue", value: Buffer.from("hi") } }],
      [{ arrayValue: { values: [] } }, { value: { case: "arrayValue", value: {} } }],
      [{ kvlistValue: { values: [] } }, { value: { case: "kvlistValue", value: {} } }],
      [{ arrayValue: {} }, { value: { case: "arrayValue", value: {} } }],
      [{ kvlistValue: {} }, { value: { case: "kvlistValue", value: {} } }],
      [
        { kvlistValue: { values: [{ key: "" }, { value: { stringValue: "no key" } }, {}] } },
        {
          value: {
            case: "kvlistValue",
            value: { values: [{}, { value: { value: { case: "stringValue", value: "no key" } } }, {}] },
          },
        },
      ],
    ];
    for (const [json, init] of cases) {
      expectConverts(bodyJson(json), bodyRequest(init));
    }
  });

  it("nests arrays and kvlists several levels deep", () => {
    const inner: AnyValueInit = {
      value: {
        case: "kvlistValue",
        value: {
          values: [
            { key: "leaf", value: { value: { case: "intValue", value: -1n } } },
            { key: "empty", value: {} },
            { key: "none" },
          ],
        },
      },
    };
    const init: AnyValueInit = {
      value: {
        case: "arrayValue",
        value: {
          values: [
            { value: { case: "arrayValue", value: { values: [inner, inner, {}] } } },
            { value: { case: "stringValue", value: "x".repeat(300) } },
            inner,
          ],
        },
      },
    };
    const innerJson = {
      kvlistValue: {
        values: [{ key: "leaf", value: { intValue: "-1" } }, { key: "empty", value: {} }, { key: "none" }],
      },
    };
    const json = {
      arrayValue: {
        values: [
          { arrayValue: { values: [innerJson, innerJson, {}] } },
          { stringValue: "x".repeat(300) },
          innerJson,
        ],
      },
    };
    expectConverts(bodyJson(json), bodyRequest(init));
  });

  it(`accepts ${MAX_VALUE_DEPTH} levels of nesting and refuses more`, () => {
    const nest = (levels: number): unknown => {
      let v: unknown = { stringValue: "bottom" };
      for (let i = 1; i < levels; i++)
        v = i % 2 ? { arrayValue: { values: [v] } } : { kvlistValue: { values: [{ key: "k", value: v }] } };
      return v;
    };
    const nestInit = (levels: number): AnyValueInit => {
      let v: AnyValueInit = { value: { case: "stringValue", value: "bottom" } };
      for (let i = 1; i < levels; i++)
        v =
          i % 2
            ? { value: { case: "arrayValue", value: { values: [v] } } }
            : { value: { case: "kvlistValue", value: { values: [{ key: "k", value: v }] } } };
      return v;
    };
    expectConverts(bodyJson(nest(MAX_VALUE_DEPTH)), bodyRequest(nestInit(MAX_VALUE_DEPTH)));
    const err = catchError(() => otlpJsonLogsToProtobuf(bodyJson(nest(MAX_VALUE_DEPTH + 1))));
    expect(err.code).toBe(ErrorCode.INVALID_DATA);
    expect(err.message).toMatch(
      /^resourceLogs\[0\]\.scopeLogs\[0\]\.logRecords\[0\]\.body\.kvlistValue\.values\[0\]\.value\.arrayValue\.values\[0\]\./,
    );
    expect(err.message).toMatch(/values nest deeper than 32 levels$/);
    // Far deeper than the JS stack could take if the walk did not stop.
    const levels = 100000;
    const abyss = `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":${'{"arrayValue":{"values":['.repeat(levels)}{}${"]}}".repeat(levels)}}]}]}]}`;
    const deepErr = catchError(() => otlpJsonLogsToProtobuf(abyss));
    expect(deepErr.code).toBe(ErrorCode.INVALID_DATA);
  });

  it("writes a set oneof member even when it holds the default value", () => {
    const cases: [unknown, AnyValueInit][] = [
      [{ stringValue: "" }, { value: { case: "stringValue", value: "" } }],
      [{ boolValue: false }, { value: { case: "boolValue", value: false } }],
      [{ intValue: "0" }, { value: { case: "intValue", value: 0n } }],
      [{ intValue: 0 }, { value: { case: "intValue", value: 0n } }],
      [{ doubleValue: 0 }, { value: { case: "doubleValue", value: 0 } }],
      [{ bytesValue: "" }, { value: { case: "bytesValue", value: new Uint8Array(0) } }],
    ];
    for (const [json, init] of cases) {
      const expected = bodyRequest(init);
      expectConverts(bodyJson(json), expected);
      const body = fromBinary(ExportLogsServiceRequestSchema, otlpJsonLogsToProtobuf(bodyJson(json)))
        .resourceLogs[0]?.scopeLogs[0]?.logRecords[0]?.body;
      expect(body?.value.case).toBe(init.value?.case);
    }
  });

  it("writes an empty AnyValue as a present, empty message", () => {
    const bytes = otlpJsonLogsToProtobuf(bodyJson({}));
    const record = fromBinary(ExportLogsServiceRequestSchema, bytes).resourceLogs[0]?.scopeLogs[0]
      ?.logRecords[0];
    expect(record?.body).toBeDefined();
    expect(record?.body?.value.case).toBeUndefined();
    expectConverts(bodyJson({}), bodyRequest({}));
    // A null member, or only unknown keys, is the same as no member.
    expectConverts(bodyJson({ stringValue: null }), bodyRequest({}));
    expectConverts(bodyJson({ futureValue: { x: 1 } }), bodyRequest({}));
  });

  it("encodes 64-bit integers exactly, including beyond 2^53 and negative", () => {
    const cases: [unknown, bigint][] = [
      ["9007199254740993", 9007199254740993n],
      ["-9007199254740993", -9007199254740993n],
      ["9223372036854775807", 9223372036854775807n],
      ["-9223372036854775808", -9223372036854775808n],
      ["-1", -1n],
      [-1, -1n],
      [-2147483649, -2147483649n],
      [Number.MAX_SAFE_INTEGER, 9007199254740991n],
      [1e3, 1000n],
      ["0001", 1n],
    ];
    for (const [json, value] of cases) {
      expectConverts(bodyJson({ intValue: json }), bodyRequest({ value: { case: "intValue", value } }));
    }
    // Negative int64 is ten bytes of two's complement: AnyValue is 1 tag + 10 bytes.
    const bytes = otlpJsonLogsToProtobuf(bodyJson({ intValue: "-1" }));
    expect(Buffer.from(bytes).toString("hex")).toContain("2a0b18ffffffffffffffffff01");
  });

  it("accepts NaN and the infinities as strings", () => {
    for (const [json, value] of [
      ["NaN", Number.NaN],
      ["Infinity", Number.POSITIVE_INFINITY],
      ["-Infinity", Number.NEGATIVE_INFINITY],
    ] as const) {
      const msg = bodyRequest({ value: { case: "doubleValue", value } });
      const bytes = otlpJsonLogsToProtobuf(bodyJson({ doubleValue: json }));
      expectBytes(bytes, toBinary(ExportLogsServiceRequestSchema, msg));
      const got = fromBinary(ExportLogsServiceRequestSchema, bytes).resourceLogs[0]?.scopeLogs[0]
        ?.logRecords[0]?.body?.value;
      expect(got?.case).toBe("doubleValue");
      expect(got?.value).toBe(value);
    }
    const negZero = fromBinary(
      ExportLogsServiceRequestSchema,
      otlpJsonLogsToProtobuf(bodyJson({ doubleValue: -0 }).replace('"doubleValue":0', '"doubleValue":-0')),
    ).resourceLogs[0]?.scopeLogs[0]?.logRecords[0]?.body?.value.value;
    expect(Object.is(negZero, -0)).toBe(true);
  });

  it("decodes base64 bytes in either alphabet, padded or not", () => {
    const raw = new Uint8Array([0xfb, 0xff, 0xbf, 0x00, 0x3e]);
    const expected = bodyRequest({ value: { case: "bytesValue", value: raw } });
    for (const text of ["+/+/AD4=", "-_-_AD4=", "+/+/AD4", "-_-_AD4"]) {
      expectConverts(bodyJson({ bytesValue: text }), expected);
    }
  });

  it("accepts snake_case member names", () => {
    expectConverts(
      bodyJson({
        kvlist_value: {
          values: [
            { key: "a", value: { int_value: "5" } },
            { key: "b", value: { bytes_value: "AA==" } },
          ],
        },
      }),
      bodyRequest({
        value: {
          case: "kvlistValue",
          value: {
            values: [
              { key: "a", value: { value: { case: "intValue", value: 5n } } },
              { key: "b", value: { value: { case: "bytesValue", value: new Uint8Array([0]) } } },
            ],
          },
        },
      }),
    );
    expectConverts(
      bodyJson({ string_value: "s" }),
      bodyRequest({ value: { case: "stringValue", value: "s" } }),
    );
    expectConverts(
      bodyJson({ bool_value: true }),
      bodyRequest({ value: { case: "boolValue", value: true } }),
    );
    expectConverts(bodyJson({ double_value: 2 }), bodyRequest({ value: { case: "doubleValue", value: 2 } }));
    expectConverts(
      bodyJson({ array_value: { values: [{}] } }),
      bodyRequest({ value: { case: "arrayValue", value: { values: [{}] } } }),
    );
  });
});

describe("otlpJsonLogsToProtobuf: strings", () => {
  it("encodes emoji, CJK and other non-ASCII text as UTF-8", () => {
    for (const s of [
      "🎉 deployed 🚀",
      "日本語のログメッセージ",
      "中文日志",
      "한국어",
      "Ünïcödé",
      "é".repeat(64),
      "€".repeat(5462),
      `${"a".repeat(127)}é`,
      'tab\tnewline\nquote"backslash\\nul\u0000',
    ]) {
      const expected = oneRecordRequest({
        body: { value: { case: "stringValue", value: s } },
        attributes: [{ key: s, value: { value: { case: "stringValue", value: s } } }],
        severityText: s,
      });
      expectConverts(
        oneRecord({
          body: { stringValue: s },
          attributes: [{ key: s, value: { stringValue: s } }],
          severityText: s,
        }),
        expected,
      );
    }
  });

  it("replaces lone surrogates with U+FFFD", () => {
    // JSON.parse turns "\ud800" escapes into lone surrogates, which UTF-8 cannot
    // carry; the encoder substitutes U+FFFD, as TextEncoder and protobuf-es do.
    const json =
      '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"a\\ud800b\\udc00"}}]}]}]}';
    const bytes = otlpJsonLogsToProtobuf(json);
    const decoded = fromBinary(ExportLogsServiceRequestSchema, bytes);
    expect(decoded.resourceLogs[0]?.scopeLogs[0]?.logRecords[0]?.body?.value.value).toBe("a\ufffdb\ufffd");
    expectBytes(
      bytes,
      toBinary(
        ExportLogsServiceRequestSchema,
        bodyRequest({ value: { case: "stringValue", value: "a\ud800b\udc00" } }),
      ),
    );
    // A correctly paired escape is one astral character.
    expectConverts(
      '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"\\ud83c\\udf89"}}]}]}]}',
      bodyRequest({ value: { case: "stringValue", value: "🎉" } }),
    );
  });

  it("refuses bytes that are not UTF-8", () => {
    const body = Buffer.concat([
      Buffer.from('{"resourceLogs":[{"schemaUrl":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}]}'),
    ]);
    const err = catchError(() => otlpJsonLogsToProtobuf(body));
    expect(err.code).toBe(ErrorCode.MALFORMED_PAYLOAD);
    expect(err.message).toMatch(/UTF-8/);
  });
});

describe("otlpJsonLogsToProtobuf: log record fields", () => {
  it("omits proto3 defaults", () => {
    const json = oneRecord({
      timeUnixNano: "0",
      observedTimeUnixNano: 0,
      severityNumber: 0,
      severityText: "",
      attributes: [],
      droppedAttributesCount: 0,
      flags: "0",
      traceId: "",
      spanId: "",
      eventName: "",
    });
    const bytes = otlpJsonLogsToProtobuf(json);
    expectConverts(json, oneRecordRequest({}));
    // ResourceLogs { ScopeLogs { LogRecord {} } }
    expect(Buffer.from(bytes).toString("hex")).toBe("0a04120212" + "00");
    expect(otlpJsonLogsToProtobuf(oneRecord({ severityNumber: "SEVERITY_NUMBER_UNSPECIFIED" }))).toEqual(
      bytes,
    );
  });

  it("treats null as absent everywhere", () => {
    const nulls = {
      timeUnixNano: null,
      observedTimeUnixNano: null,
      severityNumber: null,
      severityText: null,
      body: null,
      attributes: null,
      droppedAttributesCount: null,
      flags: null,
      traceId: null,
      spanId: null,
      eventName: null,
    };
    expectConverts(oneRecord(nulls), oneRecordRequest({}));
    expectConverts(
      JSON.stringify({
        resourceLogs: [
          {
            resource: { attributes: null, droppedAttributesCount: null, entityRefs: null },
            scopeLogs: [
              { scope: { name: null, version: null, attributes: null }, logRecords: null, schemaUrl: null },
            ],
            schemaUrl: null,
          },
          { resource: null, scopeLogs: null },
        ],
      }),
      request({ resourceLogs: [{ resource: {}, scopeLogs: [{ scope: {} }] }, {}] }),
    );
    expectConverts('{"resourceLogs":null}', request({}));
    expectConverts(
      oneRecord({
        attributes: [
          { key: "k", value: null },
          { key: null, value: { stringValue: "v" } },
        ],
      }),
      oneRecordRequest({
        attributes: [{ key: "k" }, { value: { value: { case: "stringValue", value: "v" } } }],
      }),
    );
  });

  it("accepts 64-bit timestamps as strings or numbers", () => {
    expectConverts(
      oneRecord({ timeUnixNano: "18446744073709551615", observedTimeUnixNano: 1700000000000000000 }),
      oneRecordRequest({ timeUnixNano: 18446744073709551615n, observedTimeUnixNano: 1700000000000000000n }),
    );
    expectConverts(
      oneRecord({ time_unix_nano: "1700000000000000001", observed_time_unix_nano: "42" }),
      oneRecordRequest({ timeUnixNano: 1700000000000000001n, observedTimeUnixNano: 42n }),
    );
  });

  it("accepts severity numbers as integers or enum names, and passes unknown numbers through", () => {
    const names = [
      "SEVERITY_NUMBER_UNSPECIFIED",
      "SEVERITY_NUMBER_TRACE",
      "SEVERITY_NUMBER_TRACE2",
      "SEVERITY_NUMBER_TRACE3",
      "SEVERITY_NUMBER_TRACE4",
      "SEVERITY_NUMBER_DEBUG",
      "SEVERITY_NUMBER_DEBUG2",
      "SEVERITY_NUMBER_DEBUG3",
      "SEVERITY_NUMBER_DEBUG4",
      "SEVERITY_NUMBER_INFO",
      "SEVERITY_NUMBER_INFO2",
      "SEVERITY_NUMBER_INFO3",
      "SEVERITY_NUMBER_INFO4",
      "SEVERITY_NUMBER_WARN",
      "SEVERITY_NUMBER_WARN2",
      "SEVERITY_NUMBER_WARN3",
      "SEVERITY_NUMBER_WARN4",
      "SEVERITY_NUMBER_ERROR",
      "SEVERITY_NUMBER_ERROR2",
      "SEVERITY_NUMBER_ERROR3",
      "SEVERITY_NUMBER_ERROR4",
      "SEVERITY_NUMBER_FATAL",
      "SEVERITY_NUMBER_FATAL2",
      "SEVERITY_NUMBER_FATAL3",
      "SEVERITY_NUMBER_FATAL4",
    ];
    names.forEach((name, n) => {
      expectConverts(oneRecord({ severityNumber: name }), oneRecordRequest({ severityNumber: n }));
      expectConverts(oneRecord({ severity_number: n }), oneRecordRequest({ severityNumber: n }));
    });
    for (const n of [25, 100, 2147483647]) {
      const bytes = otlpJsonLogsToProtobuf(oneRecord({ severityNumber: n }));
      expect(
        fromBinary(ExportLogsServiceRequestSchema, bytes).resourceLogs[0]?.scopeLogs[0]?.logRecords[0]
          ?.severityNumber,
      ).toBe(n);
    }
  });

  it("accepts uint32 and fixed32 fields as numbers or decimal strings", () => {
    expectConverts(
      oneRecord({ droppedAttributesCount: "4294967295", flags: 4294967295 }),
      oneRecordRequest({ droppedAttributesCount: 4294967295, flags: 4294967295 }),
    );
    expectConverts(
      oneRecord({ dropped_attributes_count: 5, flags: "257" }),
      oneRecordRequest({ droppedAttributesCount: 5, flags: 257 }),
    );
  });

  it("decodes trace and span ids from hex of either case", () => {
    const expected = oneRecordRequest({
      traceId: Buffer.from(TRACE_ID_HEX, "hex"),
      spanId: Buffer.from(SPAN_ID_HEX, "hex"),
    });
    expectConverts(oneRecord({ traceId: TRACE_ID_HEX, spanId: SPAN_ID_HEX }), expected);
    expectConverts(
      oneRecord({ traceId: TRACE_ID_HEX.toUpperCase(), spanId: SPAN_ID_HEX.toUpperCase() }),
      expected,
    );
    expectConverts(oneRecord({ trace_id: TRACE_ID_HEX, span_id: SPAN_ID_HEX }), expected);
    expectConverts(
      oneRecord({ traceId: "00000000000000000000000000000000", spanId: "0000000000000000" }),
      oneRecordRequest({ traceId: new Uint8Array(16), spanId: new Uint8Array(8) }),
    );
  });

  it("prefers the lowerCamelCase spelling when both are present", () => {
    expectConverts(
      oneRecord({ severityText: "camel", severity_text: "snake" }),
      oneRecordRequest({ severityText: "camel" }),
    );
  });
});

describe("otlpJsonLogsToProtobuf: empty and unknown", () => {
  it("converts empty requests to empty output", () => {
    expect(otlpJsonLogsToProtobuf("{}")).toEqual(new Uint8Array(0));
    expect(otlpJsonLogsToProtobuf('{"resourceLogs":[]}')).toEqual(new Uint8Array(0));
    expect(convertOtlpJsonLogs("{}").logRecordCount).toBe(0);
    expectConverts('{"resourceLogs":[{}]}', request({ resourceLogs: [{}] }));
    expectConverts(
      '{"resourceLogs":[{"resource":{},"scopeLogs":[{"scope":{},"logRecords":[{}]}]}]}',
      request({ resourceLogs: [{ resource: {}, scopeLogs: [{ scope: {}, logRecords: [{}] }] }] }),
    );
  });

  it("ignores unknown fields at every level, whatever their type", () => {
    const unknown = {
      futureField: { deeply: [1, "x", null, { nested: true }] },
      another: 12,
      alsoNull: null,
    };
    const json = JSON.stringify({
      ...unknown,
      resourceLogs: [
        {
          ...unknown,
          resource: {
            ...unknown,
            attributes: [{ ...unknown, key: "k", value: { ...unknown, stringValue: "v" } }],
          },
          scopeLogs: [
            {
              ...unknown,
              scope: { ...unknown, name: "n" },
              logRecords: [{ ...unknown, body: { ...unknown, intValue: 3 }, severityNumber: 5 }],
            },
          ],
        },
      ],
    });
    expectConverts(
      json,
      request({
        resourceLogs: [
          {
            resource: { attributes: [{ key: "k", value: { value: { case: "stringValue", value: "v" } } }] },
            scopeLogs: [
              {
                scope: { name: "n" },
                logRecords: [{ body: { value: { case: "intValue", value: 3n } }, severityNumber: 5 }],
              },
            ],
          },
        ],
      }),
    );
  });
});

describe("otlpJsonLogsToProtobuf: errors", () => {
  const rec = "resourceLogs[0].scopeLogs[0].logRecords[0]";

  it("reports undecodable JSON as MALFORMED_PAYLOAD with the parser's message", () => {
    for (const text of ["", "{", '{"resourceLogs": [}', "nul", "{'a':1}", '{"a":1,}']) {
      let parserMessage = "";
      try {
        JSON.parse(text);
      } catch (err) {
        parserMessage = (err as Error).message;
      }
      const err = catchError(() => otlpJsonLogsToProtobuf(text));
      expect(err.code).toBe(ErrorCode.MALFORMED_PAYLOAD);
      expect(err.retryable).toBe(false);
      expect(err.message).toBe(`invalid JSON: ${parserMessage}`);
    }
  });

  it("refuses a top level that is not an object", () => {
    for (const [text, got] of [
      ["[]", "an array"],
      ["null", "null"],
      ["1", "a number"],
      ['"x"', "a string"],
      ["true", "a boolean"],
    ]) {
      expectInvalid(text as string, `expected a JSON object at the top level, got ${got}`);
    }
  });

  it("names the path of wrongly typed containers", () => {
    expectInvalid('{"resourceLogs":{}}', "resourceLogs: expected an array, got an object");
    expectInvalid('{"resource_logs":"x"}', "resource_logs: expected an array, got a string");
    expectInvalid('{"resourceLogs":[1]}', "resourceLogs[0]: expected an object, got a number");
    expectInvalid('{"resourceLogs":[{},[]]}', "resourceLogs[1]: expected an object, got an array");
    expectInvalid(
      '{"resourceLogs":[{"resource":"r"}]}',
      "resourceLogs[0].resource: expected an object, got a string",
    );
    expectInvalid(
      '{"resourceLogs":[{"resource":{"attributes":{}}}]}',
      "resourceLogs[0].resource.attributes: expected an array, got an object",
    );
    expectInvalid(
      '{"resourceLogs":[{"resource":{"attributes":[{"key":1}]}}]}',
      "resourceLogs[0].resource.attributes[0].key: expected a string, got a number",
    );
    expectInvalid(
      '{"resourceLogs":[{"resource":{"attributes":[{"key":"a","value":{"stringValue":1}}]}}]}',
      "resourceLogs[0].resource.attributes[0].value.stringValue: expected a string, got a number",
    );
    expectInvalid(
      '{"resourceLogs":[{"resource":{"attributes":[null]}}]}',
      "resourceLogs[0].resource.attributes[0]: expected an object, got null",
    );
    expectInvalid(
      '{"resourceLogs":[{"resource":{"entityRefs":[{"idKeys":["a",2]}]}}]}',
      "resourceLogs[0].resource.entityRefs[0].idKeys[1]: expected a string, got a number",
    );
    expectInvalid(
      '{"resourceLogs":[{"resource":{"entity_refs":[{"type":false}]}}]}',
      "resourceLogs[0].resource.entity_refs[0].type: expected a string, got a boolean",
    );
    expectInvalid(
      '{"resourceLogs":[{"scopeLogs":3}]}',
      "resourceLogs[0].scopeLogs: expected an array, got a number",
    );
    expectInvalid(
      '{"resourceLogs":[{"scopeLogs":[{"scope":[]}]}]}',
      "resourceLogs[0].scopeLogs[0].scope: expected an object, got an array",
    );
    expectInvalid(
      '{"resourceLogs":[{"scopeLogs":[{"scope":{"attributes":[{"key":"k","value":{"boolValue":"true"}}]}}]}]}',
      "resourceLogs[0].scopeLogs[0].scope.attributes[0].value.boolValue: expected a boolean, got a string",
    );
    expectInvalid(
      '{"resourceLogs":[{"scopeLogs":[{"logRecords":{}}]}]}',
      "resourceLogs[0].scopeLogs[0].logRecords: expected an array, got an object",
    );
    expectInvalid(
      '{"resourceLogs":[{"schemaUrl":1}]}',
      "resourceLogs[0].schemaUrl: expected a string, got a number",
    );
    expectInvalid(oneRecord({ attributes: "a" }), `${rec}.attributes: expected an array, got a string`);
    expectInvalid(oneRecord({ body: "text" }), `${rec}.body: expected an object, got a string`);
    expectInvalid(oneRecord({ severityText: 3 }), `${rec}.severityText: expected a string, got a number`);
    expectInvalid(oneRecord({ event_name: [] }), `${rec}.event_name: expected a string, got an array`);
  });

  it("gives the full path into a deep value", () => {
    const deep = (body: unknown) =>
      JSON.stringify({
        resourceLogs: [{}, { scopeLogs: [{}, { logRecords: [{}, {}, {}, { body }] }] }],
      });
    expectInvalid(
      deep({
        kvlistValue: {
          values: [{}, {}, { key: "k", value: { arrayValue: { values: [{}, { intValue: 1.5 }] } } }],
        },
      }),
      "resourceLogs[1].scopeLogs[1].logRecords[3].body.kvlistValue.values[2].value.arrayValue.values[1].intValue: expected a signed 64-bit integer or decimal string",
    );
    expectInvalid(
      deep({ kvlistValue: { values: { x: [] } } }),
      "resourceLogs[1].scopeLogs[1].logRecords[3].body.kvlistValue.values: expected an array, got an object",
    );
  });

  it("checks trace and span ids", () => {
    const base = {
      resourceLogs: [{ scopeLogs: [{}, { logRecords: [{}, {}, {}, { traceId: "abc" }] }] }],
    };
    expectInvalid(
      JSON.stringify(base),
      "resourceLogs[0].scopeLogs[1].logRecords[3].traceId: expected 32 hex characters",
    );
    expectInvalid(
      oneRecord({ traceId: `${TRACE_ID_HEX.slice(0, 31)}g` }),
      `${rec}.traceId: expected 32 hex characters`,
    );
    expectInvalid(oneRecord({ traceId: `${TRACE_ID_HEX}00` }), `${rec}.traceId: expected 32 hex characters`);
    // The base64 of a 16-byte id, as plain protobuf JSON would write it.
    expectInvalid(
      oneRecord({ traceId: "W47/95gDgQPSabYzgT/GDA==" }),
      `${rec}.traceId: expected 32 hex characters`,
    );
    expectInvalid(oneRecord({ spanId: TRACE_ID_HEX }), `${rec}.spanId: expected 16 hex characters`);
    expectInvalid(oneRecord({ span_id: "eee19b7ec3c1b17z" }), `${rec}.span_id: expected 16 hex characters`);
    expectInvalid(oneRecord({ traceId: 5 }), `${rec}.traceId: expected a hex string, got a number`);
  });

  it("checks 64-bit integers", () => {
    const unsigned = "expected an unsigned 64-bit integer or decimal string";
    expectInvalid(oneRecord({ timeUnixNano: -1 }), `${rec}.timeUnixNano: ${unsigned}`);
    expectInvalid(oneRecord({ timeUnixNano: "-1" }), `${rec}.timeUnixNano: ${unsigned}`);
    expectInvalid(oneRecord({ timeUnixNano: 1.5 }), `${rec}.timeUnixNano: ${unsigned}`);
    expectInvalid(oneRecord({ timeUnixNano: "18446744073709551616" }), `${rec}.timeUnixNano: ${unsigned}`);
    expectInvalid(oneRecord({ timeUnixNano: 2 ** 64 }), `${rec}.timeUnixNano: ${unsigned}`);
    expectInvalid(oneRecord({ observedTimeUnixNano: "12a" }), `${rec}.observedTimeUnixNano: ${unsigned}`);
    expectInvalid(oneRecord({ observed_time_unix_nano: "" }), `${rec}.observed_time_unix_nano: ${unsigned}`);
    expectInvalid(oneRecord({ timeUnixNano: "1e9" }), `${rec}.timeUnixNano: ${unsigned}`);
    expectInvalid(
      oneRecord({ timeUnixNano: true }),
      `${rec}.timeUnixNano: expected an integer or a decimal string, got a boolean`,
    );
    const signed = "expected a signed 64-bit integer or decimal string";
    expectInvalid(bodyJson({ intValue: "9223372036854775808" }), `${rec}.body.intValue: ${signed}`);
    expectInvalid(bodyJson({ intValue: "-9223372036854775809" }), `${rec}.body.intValue: ${signed}`);
    expectInvalid(bodyJson({ intValue: 2 ** 63 }), `${rec}.body.intValue: ${signed}`);
    expectInvalid(bodyJson({ int_value: " 1" }), `${rec}.body.int_value: ${signed}`);
    expectInvalid(
      bodyJson({ intValue: {} }),
      `${rec}.body.intValue: expected an integer or a decimal string, got an object`,
    );
  });

  it("checks 32-bit integers and enums", () => {
    const u32 = "expected an integer in 0..4294967295";
    expectInvalid(oneRecord({ droppedAttributesCount: -1 }), `${rec}.droppedAttributesCount: ${u32}`);
    expectInvalid(
      oneRecord({ dropped_attributes_count: "4294967296" }),
      `${rec}.dropped_attributes_count: ${u32}`,
    );
    expectInvalid(oneRecord({ flags: 0.5 }), `${rec}.flags: ${u32}`);
    expectInvalid(oneRecord({ flags: true }), `${rec}.flags: expected an integer, got a boolean`);
    expectInvalid(
      '{"resourceLogs":[{"resource":{"droppedAttributesCount":"x"}}]}',
      `resourceLogs[0].resource.droppedAttributesCount: ${u32}`,
    );
    const sev = "expected a SeverityNumber name or an integer in 0..2147483647";
    expectInvalid(oneRecord({ severityNumber: -1 }), `${rec}.severityNumber: ${sev}`);
    expectInvalid(oneRecord({ severityNumber: 2147483648 }), `${rec}.severityNumber: ${sev}`);
    expectInvalid(oneRecord({ severityNumber: 9.5 }), `${rec}.severityNumber: ${sev}`);
    expectInvalid(oneRecord({ severityNumber: "INFO" }), `${rec}.severityNumber: ${sev}`);
    expectInvalid(oneRecord({ severity_number: "9" }), `${rec}.severity_number: ${sev}`);
    expectInvalid(
      oneRecord({ severityNumber: {} }),
      `${rec}.severityNumber: expected an integer or a SeverityNumber name, got an object`,
    );
  });

  it("checks doubles and bytes", () => {
    const dbl = 'expected a number, "NaN", "Infinity" or "-Infinity"';
    expectInvalid(bodyJson({ doubleValue: "nan" }), `${rec}.body.doubleValue: ${dbl}`);
    expectInvalid(bodyJson({ doubleValue: "1e999" }), `${rec}.body.doubleValue: ${dbl}`);
    expectInvalid(bodyJson({ doubleValue: "" }), `${rec}.body.doubleValue: ${dbl}`);
    expectInvalid(bodyJson({ doubleValue: " 1" }), `${rec}.body.doubleValue: ${dbl}`);
    expectInvalid(
      bodyJson({ doubleValue: true }),
      `${rec}.body.doubleValue: expected a number, got a boolean`,
    );
    expectInvalid(bodyJson({ bytesValue: "!!!!" }), `${rec}.body.bytesValue: expected base64`);
    expectInvalid(bodyJson({ bytesValue: "A" }), `${rec}.body.bytesValue: expected base64`);
    expectInvalid(
      bodyJson({ bytesValue: 12 }),
      `${rec}.body.bytesValue: expected a base64 string, got a number`,
    );
  });

  it("checks nested value containers", () => {
    expectInvalid(bodyJson({ arrayValue: [] }), `${rec}.body.arrayValue: expected an object, got an array`);
    expectInvalid(
      bodyJson({ arrayValue: { values: {} } }),
      `${rec}.body.arrayValue.values: expected an array, got an object`,
    );
    expectInvalid(
      bodyJson({ arrayValue: { values: [null] } }),
      `${rec}.body.arrayValue.values[0]: expected an object, got null`,
    );
    expectInvalid(
      bodyJson({ kvlistValue: "x" }),
      `${rec}.body.kvlistValue: expected an object, got a string`,
    );
    expectInvalid(
      bodyJson({ kvlistValue: { values: [{ key: "a", value: 1 }] } }),
      `${rec}.body.kvlistValue.values[0].value: expected an object, got a number`,
    );
    expectInvalid(
      bodyJson({ kvlist_value: { values: [{ key: "a", value: { string_value: false } }] } }),
      `${rec}.body.kvlist_value.values[0].value.string_value: expected a string, got a boolean`,
    );
  });

  it("refuses two members of the AnyValue oneof", () => {
    expectInvalid(
      bodyJson({ stringValue: "a", intValue: 1 }),
      `${rec}.body.intValue: value already set by stringValue`,
    );
    expectInvalid(
      bodyJson({ stringValue: "a", string_value: "b" }),
      `${rec}.body.string_value: value already set by stringValue`,
    );
    // A null member is absent, so it does not conflict.
    expectConverts(
      bodyJson({ stringValue: null, intValue: 1 }),
      bodyRequest({ value: { case: "intValue", value: 1n } }),
    );
  });

  it("throws SluiceErrors that are not retryable", () => {
    const err = catchError(() => otlpJsonLogsToProtobuf(oneRecord({ traceId: "x" })));
    expect(err.name).toBe("SluiceError");
    expect(err.retryable).toBe(false);
    expect(err.code).toBe(ErrorCode.INVALID_DATA);
  });
});

describe("otlpJsonLogsToProtobuf: interoperability", () => {
  it("matches protobuf-es for a decoded request written by an OTLP/JSON exporter shape", () => {
    // The shape the OpenTelemetry JS exporters post: ids hex, times as strings, enum as number.
    const json = {
      resourceLogs: [
        {
          resource: {
            attributes: [
              { key: "service.name", value: { stringValue: "svc" } },
              { key: "telemetry.sdk.language", value: { stringValue: "nodejs" } },
            ],
            droppedAttributesCount: 0,
          },
          scopeLogs: [
            {
              scope: { name: "logger", version: "" },
              logRecords: [
                {
                  timeUnixNano: "1700000000123000000",
                  observedTimeUnixNano: "1700000000124000000",
                  severityNumber: 13,
                  severityText: "WARN",
                  body: { stringValue: "disk almost full" },
                  attributes: [{ key: "disk.free", value: { doubleValue: 0.05 } }],
                  droppedAttributesCount: 0,
                  flags: 1,
                  traceId: TRACE_ID_HEX,
                  spanId: SPAN_ID_HEX,
                },
              ],
            },
          ],
        },
      ],
    };
    const bytes = otlpJsonLogsToProtobuf(JSON.stringify(json));
    const decoded = fromBinary(ExportLogsServiceRequestSchema, bytes);
    const record = decoded.resourceLogs[0]?.scopeLogs[0]?.logRecords[0];
    expect(record?.timeUnixNano).toBe(1700000000123000000n);
    expect(record?.severityNumber).toBe(13);
    expect(Buffer.from(record?.traceId ?? []).toString("hex")).toBe(TRACE_ID_HEX);
    expect(Buffer.from(record?.spanId ?? []).toString("hex")).toBe(SPAN_ID_HEX);
    expect(JSON.parse(toOtlpJson(decoded, { enumAsInteger: true }))).toEqual(
      JSON.parse(
        JSON.stringify({
          resourceLogs: [
            {
              resource: { attributes: json.resourceLogs[0]?.resource.attributes },
              scopeLogs: [
                {
                  scope: { name: "logger" },
                  logRecords: [
                    {
                      timeUnixNano: "1700000000123000000",
                      observedTimeUnixNano: "1700000000124000000",
                      severityNumber: 13,
                      severityText: "WARN",
                      body: { stringValue: "disk almost full" },
                      attributes: [{ key: "disk.free", value: { doubleValue: 0.05 } }],
                      flags: 1,
                      traceId: TRACE_ID_HEX,
                      spanId: SPAN_ID_HEX,
                    },
                  ],
                },
              ],
            },
          ],
        }),
      ),
    );
  });

  it("keeps attribute order and duplicates as sent", () => {
    const attrs: KeyValue[] = [];
    const jsonAttrs: unknown[] = [];
    for (let i = 0; i < 300; i++) {
      const v: AnyValue = create(AnyValueSchema, { value: { case: "intValue", value: BigInt(i % 7) } });
      attrs.push({ $typeName: "opentelemetry.proto.common.v1.KeyValue", key: `k${i % 5}`, value: v });
      jsonAttrs.push({ key: `k${i % 5}`, value: { intValue: i % 7 } });
    }
    expectConverts(oneRecord({ attributes: jsonAttrs }), oneRecordRequest({ attributes: attrs }));
  });
});
