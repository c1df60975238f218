import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EnvelopeSchema } from "../../proto/gen/sluice/log/v1/envelope_pb.js";
import { decodeEnvelopeRecords } from "./decode-envelope.js";

const at = { topic: "t", partition: 0, offset: 7n };

function envelope(
  records: Record<string, unknown>[],
  resourceAttrs: [string, string][] = [["service.name", "svc"]],
) {
  return toBinary(
    EnvelopeSchema,
    create(EnvelopeSchema, {
      receiveTimeUnixNano: 5n,
      resourceLogs: {
        resource: {
          attributes: resourceAttrs.map(([key, v]) => ({
            key,
            value: { value: { case: "stringValue" as const, value: v } },
          })),
        },
        scopeLogs: [{ scope: { name: "scope", version: "1" }, logRecords: records as never }],
      },
    }),
  );
}

const str = (key: string, v: string) => ({
  key,
  value: { value: { case: "stringValue" as const, value: v } },
});

describe("event ids", () => {
  it("are 32 hex chars and stable across decodes (client retries, replays)", () => {
    const bytes = envelope([{ timeUnixNano: 1n, body: { value: { case: "stringValue", value: "a" } } }]);
    const a = decodeEnvelopeRecords(bytes, at, "logs")[0]?.eventId;
    const b = decodeEnvelopeRecords(bytes, { topic: "other", partition: 3, offset: 99n }, "logs")[0]?.eventId;
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(b).toBe(a);
  });

  it("ignore attribute order but see every content field", () => {
    const base = { timeUnixNano: 1n, attributes: [str("a", "1"), str("b", "2")] };
    const id = (r: Record<string, unknown>, res?: [string, string][]) =>
      decodeEnvelopeRecords(envelope([r], res), at, "logs")[0]?.eventId;
    const reference = id(base);
    expect(id({ timeUnixNano: 1n, attributes: [str("b", "2"), str("a", "1")] })).toBe(reference);
    const variants = [
      { ...base, timeUnixNano: 2n },
      { ...base, observedTimeUnixNano: 1n },
      { ...base, severityNumber: 9 },
      { ...base, severityText: "INFO" },
      { ...base, body: { value: { case: "stringValue", value: "x" } } },
      { ...base, attributes: [str("a", "1")] },
      { ...base, traceId: new Uint8Array(16).fill(1) },
      { ...base, spanId: new Uint8Array(8).fill(1) },
      { ...base, flags: 1 },
      { ...base, eventName: "e" },
    ];
    for (const v of variants) expect(id(v)).not.toBe(reference);
    expect(id(base, [["service.name", "other"]])).not.toBe(reference);
  });

  it("distinguish value types that print alike (int 1 vs string '1')", () => {
    const withValue = (value: unknown) =>
      decodeEnvelopeRecords(envelope([{ attributes: [{ key: "k", value: { value } }] }]), at, "logs")[0]
        ?.eventId;
    expect(withValue({ case: "intValue", value: 1n })).not.toBe(
      withValue({ case: "stringValue", value: "1" }),
    );
  });

  it("take the producer's log.record.uid when present", () => {
    const r = decodeEnvelopeRecords(
      envelope([{ attributes: [str("log.record.uid", "01JDXYZ")] }]),
      at,
      "logs",
    )[0];
    expect(r?.eventId).toBe("01JDXYZ");
  });

  it("identical records in one batch share an id (the documented consequence)", () => {
    const rec = { timeUnixNano: 1n, body: { value: { case: "stringValue", value: "same" } } };
    const [a, b] = decodeEnvelopeRecords(envelope([rec, rec]), at, "logs");
    expect(a?.eventId).toBe(b?.eventId);
    expect(a?.origin.index).toBe(0);
    expect(b?.origin.index).toBe(1);
  });

  it("records with event_name decode as events, and keep every field", () => {
    const [r] = decodeEnvelopeRecords(
      envelope([
        {
          timeUnixNano: 10n,
          observedTimeUnixNano: 11n,
          severityNumber: 17,
          severityText: "ERROR",
          eventName: "order.placed",
          traceId: Buffer.from("5b8efff798038103d269b633813fc60c", "hex"),
          spanId: Buffer.from("eee19b7ec3c1b174", "hex"),
          flags: 1,
          body: {
            value: {
              case: "kvlistValue",
              value: { values: [{ key: "n", value: { value: { case: "intValue", value: 3n } } }] },
            },
          },
        },
      ]),
      at,
      "logs",
    );
    expect(r).toMatchObject({
      kind: "events",
      timeUnixNano: 10n,
      observedTimeUnixNano: 11n,
      severityNumber: 17,
      severityText: "ERROR",
      eventName: "order.placed",
      traceId: "5b8efff798038103d269b633813fc60c",
      spanId: "eee19b7ec3c1b174",
      flags: 1,
      body: { n: 3n },
      resource: { attributes: { "service.name": "svc" } },
      scope: { name: "scope", version: "1" },
      origin: { topic: "t", partition: 0, offset: 7n, receiveTimeUnixNano: 5n },
    });
  });

  it("throws on bytes that are not an envelope", () => {
    expect(() => decodeEnvelopeRecords(Buffer.from("garbage \xff\xff"), at, "logs")).toThrow();
  });
});
