import { isUtf8 } from "node:buffer";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  type ExportLogsServiceRequest,
  ExportLogsServiceRequestSchema,
} from "../../proto/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js";
import {
  type ResourceLogs,
  ResourceLogsSchema,
} from "../../proto/gen/opentelemetry/proto/logs/v1/logs_pb.js";
import { EnvelopeSchema } from "../../proto/gen/sluice/log/v1/envelope_pb.js";
import { encodeEnvelope, encodeEnvelopeHeader, SourceProtocol } from "./envelope-writer.js";
import {
  type KeyRule,
  OtlpLogsSplitter,
  type ResourceGroup,
  validUtf8,
  wordsOf,
} from "./otlp-logs-splitter.js";
import { WireError } from "./wire.js";

const byResource: KeyRule = { from: "resource", attribute: Buffer.from("service.name") };
const byRecord: KeyRule = { from: "record", attribute: Buffer.from("tenant.id") };

const str = (key: string, value: string) => ({
  key,
  value: { value: { case: "stringValue" as const, value } },
});

function request(resourceLogs: MessageInitShape<typeof ResourceLogsSchema>[]): ExportLogsServiceRequest {
  return create(ExportLogsServiceRequestSchema, { resourceLogs });
}

function groupBytes(g: ResourceGroup): Uint8Array {
  return new Uint8Array(Buffer.concat(g.pieces));
}

function decodeGroup(g: ResourceGroup): ResourceLogs {
  const bytes = groupBytes(g);
  expect(bytes.length).toBe(g.byteLength);
  return fromBinary(ResourceLogsSchema, bytes);
}

const bodies = (rl: ResourceLogs) =>
  rl.scopeLogs.flatMap((s) =>
    s.logRecords.map((r) => (r.body?.value.case === "stringValue" ? r.body.value.value : "")),
  );

describe("OtlpLogsSplitter", () => {
  it("keeps an unsplit ResourceLogs as the one slice that arrived, keyed by service.name", () => {
    const req = request([
      {
        resource: { attributes: [str("host.name", "h1"), str("service.name", "checkout")] },
        scopeLogs: [
          { scope: { name: "lib" }, logRecords: [{ body: { value: { case: "stringValue", value: "a" } } }] },
        ],
      },
    ]);
    const bytes = toBinary(ExportLogsServiceRequestSchema, req);
    const out = new OtlpLogsSplitter(byResource).split(bytes);
    expect(out.groups).toHaveLength(1);
    const g = out.groups[0] as ResourceGroup;
    expect(g.pieces).toHaveLength(1);
    expect((g.pieces[0] as Uint8Array).buffer).toBe(bytes.buffer);
    expect(Buffer.from(g.key).toString()).toBe("checkout");
    expect(g.kind).toBe("logs");
    expect(decodeGroup(g)).toEqual(req.resourceLogs[0]);
    expect(out.acceptedRecords).toBe(1);
  });

  it("splits each ResourceLogs into its own group", () => {
    const req = request([
      { resource: { attributes: [str("service.name", "a")] }, scopeLogs: [{ logRecords: [{}, {}] }] },
      { resource: { attributes: [str("service.name", "b")] }, scopeLogs: [{ logRecords: [{}] }] },
    ]);
    const out = new OtlpLogsSplitter(byResource).split(toBinary(ExportLogsServiceRequestSchema, req));
    expect(out.groups.map((g) => [Buffer.from(g.key).toString(), g.recordCount])).toEqual([
      ["a", 2],
      ["b", 1],
    ]);
  });

  it("separates structured events (event_name set) from plain logs, keeping scopes and order", () => {
    const rec = (body: string, eventName = "") => ({
      body: { value: { case: "stringValue" as const, value: body } },
      eventName,
    });
    const req = request([
      {
        resource: { attributes: [str("service.name", "shop")] },
        schemaUrl: "https://example.test/schema",
        scopeLogs: [
          {
            scope: { name: "s1", version: "1" },
            logRecords: [rec("l1"), rec("e1", "order.placed"), rec("l2")],
          },
          { scope: { name: "s2" }, schemaUrl: "u2", logRecords: [rec("e2", "order.paid"), rec("l3")] },
        ],
      },
    ]);
    const out = new OtlpLogsSplitter(byResource).split(toBinary(ExportLogsServiceRequestSchema, req));
    const logs = out.groups.filter((g) => g.kind === "logs");
    const events = out.groups.filter((g) => g.kind === "events");
    expect(logs).toHaveLength(1);
    expect(events).toHaveLength(1);
    const l = decodeGroup(logs[0] as ResourceGroup);
    const e = decodeGroup(events[0] as ResourceGroup);
    expect(bodies(l)).toEqual(["l1", "l2", "l3"]);
    expect(bodies(e)).toEqual(["e1", "e2"]);
    expect(l.resource).toEqual(req.resourceLogs[0]?.resource);
    expect(l.schemaUrl).toBe("https://example.test/schema");
    expect(e.scopeLogs.map((s) => [s.scope?.name, s.schemaUrl])).toEqual([
      ["s1", ""],
      ["s2", "u2"],
    ]);
    expect(out.acceptedRecords).toBe(5);
  });

  it("keys by a record attribute, falling back to the resource attribute", () => {
    const rec = (tenant?: string) => ({ attributes: tenant ? [str("tenant.id", tenant)] : [] });
    const req = request([
      {
        resource: { attributes: [str("tenant.id", "fallback")] },
        scopeLogs: [{ logRecords: [rec("t1"), rec("t2"), rec(), rec("t1")] }],
      },
    ]);
    const out = new OtlpLogsSplitter(byRecord).split(toBinary(ExportLogsServiceRequestSchema, req));
    const counts = Object.fromEntries(out.groups.map((g) => [Buffer.from(g.key).toString(), g.recordCount]));
    expect(counts).toEqual({ t1: 2, t2: 1, fallback: 1 });
  });

  it("uses the text of int and bool key values, and an empty key when the attribute is missing", () => {
    const int = create(ExportLogsServiceRequestSchema, {
      resourceLogs: [
        {
          resource: {
            attributes: [{ key: "service.name", value: { value: { case: "intValue", value: -42n } } }],
          },
          scopeLogs: [{ logRecords: [{}] }],
        },
        { resource: { attributes: [] }, scopeLogs: [{ logRecords: [{}] }] },
      ],
    });
    const out = new OtlpLogsSplitter(byResource).split(toBinary(ExportLogsServiceRequestSchema, int));
    expect(out.groups.map((g) => Buffer.from(g.key).toString())).toEqual(["-42", ""]);
  });

  it("rejects records with a wrong trace_id or span_id length and keeps the rest", () => {
    const req = request([
      {
        resource: { attributes: [str("service.name", "svc")] },
        scopeLogs: [
          {
            logRecords: [
              { traceId: new Uint8Array(16).fill(1), spanId: new Uint8Array(8).fill(2) },
              { traceId: new Uint8Array(5) },
              { spanId: new Uint8Array(3) },
              {},
            ],
          },
        ],
      },
    ]);
    const out = new OtlpLogsSplitter(byResource).split(toBinary(ExportLogsServiceRequestSchema, req));
    expect(out.acceptedRecords).toBe(2);
    expect(out.rejectedRecords).toBe(2);
    expect(out.rejected.map((r) => r.reasonCode).sort()).toEqual(["INVALID_SPAN_ID", "INVALID_TRACE_ID"]);
    expect(decodeGroup(out.groups[0] as ResourceGroup).scopeLogs[0]?.logRecords).toHaveLength(2);
  });

  it("drops ResourceLogs that carry no records", () => {
    const req = request([
      { resource: { attributes: [str("service.name", "x")] }, scopeLogs: [{ logRecords: [] }] },
    ]);
    const out = new OtlpLogsSplitter(byResource).split(toBinary(ExportLogsServiceRequestSchema, req));
    expect(out.groups).toHaveLength(0);
    expect(new OtlpLogsSplitter(byResource).split(new Uint8Array(0)).groups).toHaveLength(0);
  });

  it("walks every AnyValue shape and keeps unknown fields", () => {
    const deep = create(ExportLogsServiceRequestSchema, {
      resourceLogs: [
        {
          resource: { attributes: [str("service.name", "s")] },
          scopeLogs: [
            {
              logRecords: [
                {
                  body: {
                    value: {
                      case: "kvlistValue",
                      value: {
                        values: [
                          {
                            key: "arr",
                            value: {
                              value: {
                                case: "arrayValue",
                                value: {
                                  values: [
                                    { value: { case: "boolValue", value: true } },
                                    { value: { case: "doubleValue", value: 1.5 } },
                                  ],
                                },
                              },
                            },
                          },
                          {
                            key: "bytes",
                            value: { value: { case: "bytesValue", value: new Uint8Array([0, 255]) } },
                          },
                          { key: "emoji", value: { value: { case: "stringValue", value: "héllo 🌍 日本" } } },
                        ],
                      },
                    },
                  },
                },
              ],
            },
          ],
        },
      ],
    });
    const bytes = toBinary(ExportLogsServiceRequestSchema, deep);
    // An unknown field (number 99, varint) appended to the request is skipped.
    const withUnknown = Buffer.concat([bytes, Buffer.from([0x98, 0x06, 0x01])]);
    const out = new OtlpLogsSplitter(byResource).split(withUnknown);
    expect(decodeGroup(out.groups[0] as ResourceGroup)).toEqual(deep.resourceLogs[0]);
  });

  describe("refuses undecodable requests", () => {
    const valid = toBinary(
      ExportLogsServiceRequestSchema,
      request([
        {
          resource: { attributes: [str("service.name", "s")] },
          scopeLogs: [{ logRecords: [{ severityText: "INFO" }] }],
        },
      ]),
    );
    const cases: [string, Uint8Array][] = [
      ["truncated", valid.subarray(0, valid.length - 3)],
      ["length past the end", Buffer.from([0x0a, 0x7f, 0x00])],
      ["wrong wire type for resource_logs", Buffer.from([0x08, 0x01])],
      ["field number 0", Buffer.from([0x00, 0x01])],
      ["deprecated group wire type", Buffer.from([0x0b])],
      ["truncated varint", Buffer.from([0x0a, 0xff])],
      ["random bytes", Buffer.from("this is not a protobuf message at all")],
    ];
    for (const [name, bytes] of cases) {
      it(name, () => {
        expect(() => new OtlpLogsSplitter(byResource).split(bytes)).toThrow(WireError);
      });
    }

    it("invalid UTF-8 in a string field, naming the path", () => {
      // ResourceLogs > ScopeLogs > LogRecord{severity_text = 0xff 0xfe}
      const record = Buffer.from([0x1a, 0x02, 0xff, 0xfe]);
      const scope = Buffer.concat([Buffer.from([0x12, record.length]), record]);
      const rl = Buffer.concat([Buffer.from([0x12, scope.length]), scope]);
      const req = Buffer.concat([Buffer.from([0x0a, rl.length]), rl]);
      expect(() => new OtlpLogsSplitter(byResource).split(req)).toThrow(
        /resource_logs\[0\]\.scope_logs\[0\]\.log_records\[0\]\.severity_text: string is not valid UTF-8/,
      );
    });

    it("values nested too deep", () => {
      const value = create(ExportLogsServiceRequestSchema).resourceLogs;
      void value;
      let any: Record<string, unknown> = { value: { case: "stringValue", value: "leaf" } };
      for (let i = 0; i < 40; i++) any = { value: { case: "arrayValue", value: { values: [any] } } };
      const req = create(ExportLogsServiceRequestSchema, {
        resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: any as never }] }] }],
      });
      expect(() =>
        new OtlpLogsSplitter(byResource).split(toBinary(ExportLogsServiceRequestSchema, req)),
      ).toThrow(/nested deeper/);
    });
  });
});

/** A length-delimited field: tag, length, bytes. */
function ld(field: number, ...parts: Uint8Array[]): Buffer {
  const body = Buffer.concat(parts);
  const len: number[] = [];
  let n = body.length;
  while (n >= 0x80) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  return Buffer.concat([Buffer.from([(field << 3) | 2, ...len]), body]);
}

/** A request with one record, built from the record's own encoded fields. */
const requestWithRecord = (...fields: Uint8Array[]) => ld(1, ld(2, ld(2, ...fields)));

/** A request whose one record has `bytes` as its severity_text, placed `offset` bytes into its buffer. */
function severityRequest(bytes: Uint8Array, offset = 0): Uint8Array {
  const req = requestWithRecord(ld(3, bytes));
  const store = new Uint8Array(offset + req.length + 3);
  store.set(req, offset);
  return store.subarray(offset, offset + req.length);
}

const accepts = (req: Uint8Array) => {
  try {
    new OtlpLogsSplitter(byResource).split(req);
    return true;
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
    expect(err.message).toMatch(/string is not valid UTF-8$/);
    return false;
  }
};

const hex = (s: string) => Buffer.from(s.replace(/ /g, ""), "hex");

describe("UTF-8 validation of string fields", () => {
  const valid: [string, string][] = [
    ["ASCII", "41 42 43"],
    ["2-byte (é)", "c3 a9"],
    ["3-byte (€)", "e2 82 ac"],
    ["4-byte (🌍)", "f0 9f 8c 8d"],
    ["last before the surrogates (U+D7FF)", "ed 9f bf"],
    ["first after the surrogates (U+E000)", "ee 80 80"],
    ["U+FFFF", "ef bf bf"],
    ["U+10000", "f0 90 80 80"],
    ["the last code point (U+10FFFF)", "f4 8f bf bf"],
    ["NUL", "00"],
  ];
  const invalid: [string, string][] = [
    ["a lone continuation byte", "80"],
    ["a continuation byte after ASCII", "41 bf"],
    ["overlong 2-byte (C0 80)", "c0 80"],
    ["overlong 2-byte (C1 BF)", "c1 bf"],
    ["overlong 3-byte (E0 80 80)", "e0 80 80"],
    ["overlong 3-byte (E0 9F BF)", "e0 9f bf"],
    ["overlong 4-byte (F0 80 80 80)", "f0 80 80 80"],
    ["overlong 4-byte (F0 8F BF BF)", "f0 8f bf bf"],
    ["a high surrogate (U+D800)", "ed a0 80"],
    ["a low surrogate (U+DFFF)", "ed bf bf"],
    ["a surrogate pair in CESU-8 form", "ed a0 bd ed b8 80"],
    ["above U+10FFFF (F4 90 80 80)", "f4 90 80 80"],
    ["F5 lead byte", "f5 80 80 80"],
    ["FF", "ff"],
    ["a 2-byte sequence cut off by the end of the field", "41 c3"],
    ["a 3-byte sequence cut off by the end of the field", "e2 82"],
    ["a 4-byte sequence cut off by the end of the field", "f0 9f 8c"],
    ["a sequence cut off by ASCII", "c3 41"],
    ["a 3-byte lead followed by one continuation and ASCII", "e2 82 41"],
  ];

  // Every offset of the string within the buffer's 4-byte words, with ASCII before and after it,
  // so the flaw sits in the unaligned head, in a whole word, or in the tail of the scan. A
  // sequence cut off by the end of the field keeps nothing after it.
  const placements = (core: Buffer, after: number[]) => {
    const out: { bytes: Buffer; offset: number }[] = [];
    for (const before of [0, 1, 2, 3, 4, 5, 7, 8, 13]) {
      for (const n of after) {
        for (const offset of [0, 1, 2, 3]) {
          out.push({
            bytes: Buffer.concat([Buffer.alloc(before, 0x61), core, Buffer.alloc(n, 0x62)]),
            offset,
          });
        }
      }
    }
    return out;
  };
  const ANY_TAIL = [0, 1, 2, 3, 4, 9];

  for (const [name, bytes] of valid) {
    it(`accepts ${name} anywhere in a field`, () => {
      for (const p of placements(hex(bytes), ANY_TAIL)) {
        expect(accepts(severityRequest(p.bytes, p.offset))).toBe(true);
      }
    });
  }
  for (const [name, bytes] of invalid) {
    it(`refuses ${name} anywhere in a field`, () => {
      const tail = name.includes("end of the field") ? [0] : ANY_TAIL;
      for (const p of placements(hex(bytes), tail)) {
        expect(accepts(severityRequest(p.bytes, p.offset))).toBe(false);
      }
    });
  }

  it("does not let the bytes after a field complete a sequence cut off at its end", () => {
    // severity_text = E2 82, then an unknown varint field 16 whose tag starts with 0x80:
    // E2 82 80 would be U+2080, but the string ends before the 0x80.
    const req = requestWithRecord(ld(3, hex("e2 82")), hex("80 01 00"));
    expect(accepts(req)).toBe(false);
    expect(accepts(requestWithRecord(ld(3, hex("e2 82 80")), hex("80 01 00")))).toBe(true);
  });

  it("checks long strings (past the in-place scan) the same way", () => {
    const long = Buffer.alloc(1000, 0x61);
    expect(accepts(severityRequest(long))).toBe(true);
    for (const [, bytes] of invalid) {
      expect(accepts(severityRequest(Buffer.concat([long, hex(bytes)])))).toBe(false);
      expect(accepts(severityRequest(Buffer.concat([hex(bytes), long])))).toBe(false);
    }
    for (const [, bytes] of valid) {
      expect(accepts(severityRequest(Buffer.concat([long, hex(bytes), long])))).toBe(true);
    }
  });

  it("checks every string field, naming it in the error", () => {
    const bad = hex("c0 80");
    const kv = (key: Uint8Array, value: Uint8Array) => Buffer.concat([ld(1, key), ld(2, value)]);
    const str = (b: Uint8Array) => ld(1, b); // AnyValue.string_value
    const cases: [Uint8Array, string][] = [
      [requestWithRecord(ld(5, str(bad))), "log_records[0].body"],
      [requestWithRecord(ld(6, kv(bad, str(hex("41"))))), "log_records[0].attributes[0].key"],
      [requestWithRecord(ld(6, kv(hex("41"), str(bad)))), "log_records[0].attributes[0].value"],
      [requestWithRecord(ld(12, bad)), "log_records[0].event_name"],
      [requestWithRecord(ld(5, ld(6, ld(1, kv(hex("41"), str(bad)))))), "log_records[0].body.0.value"],
      [requestWithRecord(ld(5, ld(5, ld(1, str(hex("41"))), ld(1, str(bad))))), "log_records[0].body[1]"],
      [ld(1, ld(1, ld(1, kv(hex("41"), str(bad))))), "resource_logs[0].resource.attributes[0].value"],
      [ld(1, ld(3, bad)), "resource_logs[0].schema_url"],
      [ld(1, ld(2, ld(1, ld(1, bad)))), "resource_logs[0].scope_logs[0].scope"],
      [ld(1, ld(2, ld(3, bad))), "resource_logs[0].scope_logs[0].schema_url"],
    ];
    for (const [req, path] of cases) {
      expect(() => new OtlpLogsSplitter(byResource).split(req)).toThrow(
        new RegExp(`${path.replace(/[.[\]]/g, "\\$&")}: string is not valid UTF-8$`),
      );
    }
  });

  it("agrees with isUtf8 on random byte strings at every alignment", () => {
    // A fixed-seed xorshift, so a failure reproduces.
    let x = 0x9e3779b9;
    const rnd = (m: number) => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % m;
    };
    const pieces = [
      0x41, 0x7f, 0x80, 0xbf, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xc0, 0xff, 0xa0, 0x9f, 0x8f,
      0x90,
    ];
    const store = new Uint8Array(512);
    for (let i = 0; i < 20_000; i++) {
      for (let j = 0; j < store.length; j++)
        store[j] = rnd(4) === 0 ? (pieces[rnd(pieces.length)] as number) : 0x61;
      // Mostly ASCII with rare high bytes too, which is what the scan sees in practice.
      if (i % 2 === 0)
        for (let j = 0; j < store.length; j++) if (store[j] !== 0x61 && rnd(8) !== 0) store[j] = 0x62;
      const view = store.subarray(rnd(5));
      const words = wordsOf(view);
      const start = rnd(64);
      const end = start + rnd(400);
      expect(validUtf8(view, words, start, end)).toBe(isUtf8(view.subarray(start, end)));
    }
  });
});

describe("encodeEnvelope", () => {
  it("decodes with the generated Envelope schema", () => {
    const req = request([
      {
        resource: { attributes: [str("service.name", "svc")] },
        scopeLogs: [{ logRecords: [{ body: { value: { case: "stringValue", value: "x" } } }] }],
      },
    ]);
    const group = new OtlpLogsSplitter(byResource).split(toBinary(ExportLogsServiceRequestSchema, req))
      .groups[0] as ResourceGroup;
    const header = encodeEnvelopeHeader({
      receiveTimeUnixNano: 1_700_000_000_123_456_789n,
      tenant: "acme",
      sourceProtocol: SourceProtocol.OTLP_GRPC,
      receiver: "otlp/edge",
      schemaId: "shop.v1",
    });
    const env = fromBinary(EnvelopeSchema, new Uint8Array(encodeEnvelope(header, group)));
    expect(env.receiveTimeUnixNano).toBe(1_700_000_000_123_456_789n);
    expect(env.tenant).toBe("acme");
    expect(env.sourceProtocol).toBe(SourceProtocol.OTLP_GRPC);
    expect(env.receiver).toBe("otlp/edge");
    expect(env.schemaId).toBe("shop.v1");
    expect(env.resourceLogs).toEqual(req.resourceLogs[0]);
  });

  it("omits empty optional header fields", () => {
    const header = encodeEnvelopeHeader({
      receiveTimeUnixNano: 1n,
      tenant: "",
      sourceProtocol: SourceProtocol.UNSPECIFIED,
      receiver: "",
    });
    expect(header.length).toBe(9);
  });
});
