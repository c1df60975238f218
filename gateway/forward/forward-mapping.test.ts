import { fromBinary } from "@bufbuild/protobuf";
import { encode } from "@msgpack/msgpack";
import { describe, expect, it } from "vitest";
import { ExportLogsServiceRequestSchema } from "../../proto/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js";
import type { AnyValue } from "../../proto/gen/opentelemetry/proto/common/v1/common_pb.js";
import {
  buildExportRequest,
  classifyFrame,
  InvalidFrameError,
  type MappingOptions,
  parseEntry,
  toUnixNano,
} from "./forward-mapping.js";
import { createDecoder, EventTime } from "./msgpack-frames.js";

const opts: MappingOptions = {
  serviceNameKeys: ["service.name", "service"],
  serviceNameFromTag: false,
  bodyKeys: ["log", "message"],
  severityKeys: ["level", "severity"],
  keepMetadata: true,
};

function classify(v: unknown) {
  const bytes = encode(v, { useBigInt64: true });
  return classifyFrame(createDecoder().decode(bytes), bytes);
}

function plain(v: AnyValue | undefined): unknown {
  const c = v?.value;
  if (!c) return null;
  switch (c.case) {
    case "kvlistValue":
      return Object.fromEntries(c.value.values.map((kv) => [kv.key, plain(kv.value)]));
    case "arrayValue":
      return c.value.values.map(plain);
    case undefined:
      return null;
    default:
      return c.value;
  }
}

describe("classifyFrame", () => {
  it("recognises every event mode", () => {
    expect(classify(["t", 1, { a: 1 }]).mode).toBe("message");
    expect(classify(["t", 1, { a: 1 }, { chunk: "x" }]).chunk).toBe("x");
    expect(classify(["t", [[1, { a: 1 }]], { size: 1 }]).mode).toBe("forward");
    expect(classify(["t", new Uint8Array(encode([1, { a: 1 }]))]).mode).toBe("packed_forward");
    expect(classify(["t", new Uint8Array(3), { compressed: "gzip" }]).mode).toBe("compressed_packed_forward");
    // Fluent Bit's message mode with [time, metadata].
    const m = classify(["t", [1, { m: 1 }], { a: 1 }]);
    expect(m.mode).toBe("message");
    expect(m.entries).toEqual([[[1, { m: 1 }], { a: 1 }]]);
  });

  it("takes packed entries sent as str byte for byte", () => {
    const packed = Buffer.from(encode([1, { a: "\u00ff" }]));
    // A str header in front of binary bytes, as old clients send it.
    const frame = Buffer.concat([Buffer.from([0x92, 0xa1, 0x74, 0xd9, packed.length]), packed]);
    const decoded = createDecoder().decode(frame);
    const f = classifyFrame(decoded, frame);
    expect(Buffer.from(f.entries as Uint8Array)).toEqual(packed);
  });

  it("refuses shapes that are no event mode", () => {
    expect(() => classify({ a: 1 })).toThrowError(InvalidFrameError);
    expect(() => classify([1, 2, 3])).toThrowError(/tag/);
    expect(() => classify(["t", 1])).toThrowError(InvalidFrameError);
    expect(() => classify(["t", new Uint8Array(1), { compressed: "zstd" }])).toThrowError(/compression/);
  });
});

describe("time and entries", () => {
  it("reads integer, float, uint64 and EventTime", () => {
    expect(toUnixNano(1700000000)).toBe(1700000000_000000000n);
    expect(toUnixNano(1700000000.5)).toBe(1700000000_500000000n);
    expect(toUnixNano(1700000000n)).toBe(1700000000_000000000n);
    expect(toUnixNano(new EventTime(1700000000, 42))).toBe(1700000000_000000042n);
    expect(toUnixNano(-1)).toBeUndefined();
    expect(toUnixNano("x")).toBeUndefined();
  });

  it("keeps Fluent Bit metadata and marks unreadable entries", () => {
    const e = parseEntry([[new EventTime(1, 2), { stream: "stdout" }], { log: "x" }]);
    expect(e.metadata).toEqual({ stream: "stdout" });
    expect(e.timeUnixNano).toBe(1_000000002n);
    expect(parseEntry([1]).error).toMatch(/entry/);
    expect(parseEntry([1, "not a map"]).error).toMatch(/record/);
  });
});

describe("buildExportRequest", () => {
  it("maps tag, body, attributes, severity, times and service.name", () => {
    const entries = [
      parseEntry([
        [new EventTime(1700000000, 123456789), { k8s: "pod-1" }],
        {
          log: "hello",
          level: "WARN",
          "service.name": "checkout",
          nested: { a: [1, "b", true], bin: new Uint8Array([1, 2]) },
          big: 2n ** 64n - 1n,
          ratio: 0.25,
          none: null,
        },
      ]),
      parseEntry([1700000001, { message: { structured: 1 }, service: "billing" }]),
      parseEntry([1700000002, { other: "x" }]),
      parseEntry(["bad"]),
    ];
    const { bytes, records } = buildExportRequest([{ tag: "app.web", entries, observedUnixNano: 5n }], opts);
    expect(records).toBe(4);
    const req = fromBinary(ExportLogsServiceRequestSchema, bytes);
    const services = req.resourceLogs.map((rl) => plain(rl.resource?.attributes[0]?.value));
    expect(services).toEqual(["checkout", "billing", null]);
    const first = req.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!;
    expect(first.timeUnixNano).toBe(1700000000123456789n);
    expect(first.observedTimeUnixNano).toBe(5n);
    expect(first.severityText).toBe("WARN");
    expect(first.severityNumber).toBe(13);
    expect(plain(first.body)).toBe("hello");
    const attrs = Object.fromEntries(first.attributes.map((kv) => [kv.key, plain(kv.value)]));
    expect(attrs).toEqual({
      "fluent.tag": "app.web",
      nested: { a: [1n, "b", true], bin: new Uint8Array([1, 2]) },
      big: "18446744073709551615",
      ratio: 0.25,
      none: null,
      "fluent.metadata.k8s": "pod-1",
    });
    const second = req.resourceLogs[1]!.scopeLogs[0]!.logRecords[0]!;
    expect(plain(second.body)).toEqual({ structured: 1n });
    const rest = req.resourceLogs[2]!.scopeLogs[0]!.logRecords;
    expect(rest[0]!.body).toBeUndefined();
    expect(rest[1]!.attributes.find((kv) => kv.key === "fluent.error")).toBeDefined();
  });

  it("takes service.name from the tag when asked", () => {
    const entries = [parseEntry([1, { log: "x" }])];
    const run = (rule: boolean | RegExp) =>
      fromBinary(
        ExportLogsServiceRequestSchema,
        buildExportRequest([{ tag: "kube.payments.web", entries, observedUnixNano: 1n }], {
          ...opts,
          serviceNameFromTag: rule,
        }).bytes,
      ).resourceLogs[0]?.resource?.attributes[0]?.value?.value.value;
    expect(run(true)).toBe("kube.payments.web");
    expect(run(/^kube\.([^.]+)/)).toBe("payments");
    expect(run(false)).toBeUndefined();
  });

  it("turns values nested past the ingest limit into JSON text instead of failing", () => {
    let deep: unknown = "leaf";
    for (let i = 0; i < 60; i++) deep = { d: deep };
    const { bytes } = buildExportRequest(
      [{ tag: "t", entries: [parseEntry([1, { log: deep }])], observedUnixNano: 1n }],
      opts,
    );
    const req = fromBinary(ExportLogsServiceRequestSchema, bytes);
    expect(JSON.stringify(plain(req.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!.body))).toContain("leaf");
  });
});
