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
import { type KeyRule, OtlpLogsSplitter, type ResourceGroup } from "./otlp-logs-splitter.js";
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
