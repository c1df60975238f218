import { fromBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import type { Attributes, PipelineRecord, Value } from "../../core/pipeline/record.js";
import { otlpJsonLogsToProtobuf } from "../../gateway/otlp-json/otlp-json-to-protobuf.js";
import { ExportLogsServiceRequestSchema } from "../../proto/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js";
import type { AnyValue, KeyValue } from "../../proto/gen/opentelemetry/proto/common/v1/common_pb.js";
import { toOtlpJsonLines, toOtlpJsonLinesText } from "./otlp-json.js";
import { makeRecord, makeResource, makeScope } from "./test-support.js";

function fromAnyValue(v: AnyValue | undefined): Value {
  const x = v?.value;
  switch (x?.case) {
    case "stringValue":
    case "boolValue":
    case "intValue":
    case "doubleValue":
    case "bytesValue":
      return x.value;
    case "arrayValue":
      return x.value.values.map(fromAnyValue);
    case "kvlistValue":
      return fromKeyValues(x.value.values);
    default:
      return null;
  }
}

function fromKeyValues(kvs: KeyValue[]): Attributes {
  const out: Attributes = {};
  for (const kv of kvs)
    Object.defineProperty(out, kv.key, { value: fromAnyValue(kv.value), enumerable: true });
  return out;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** Every field the OTLP line carries, read back through the gateway's own JSON converter. */
function readBack(line: string) {
  const req = fromBinary(ExportLogsServiceRequestSchema, otlpJsonLogsToProtobuf(line));
  expect(req.resourceLogs).toHaveLength(1);
  const rl = req.resourceLogs[0];
  if (rl === undefined) throw new Error("no resourceLogs");
  return rl.scopeLogs.flatMap((sl) =>
    sl.logRecords.map((lr) => ({
      timeUnixNano: lr.timeUnixNano,
      observedTimeUnixNano: lr.observedTimeUnixNano,
      severityNumber: lr.severityNumber as number,
      severityText: lr.severityText,
      body: fromAnyValue(lr.body),
      attributes: fromKeyValues(lr.attributes),
      droppedAttributesCount: lr.droppedAttributesCount,
      flags: lr.flags,
      traceId: hex(lr.traceId),
      spanId: hex(lr.spanId),
      eventName: lr.eventName,
      resource: {
        attributes: fromKeyValues(rl.resource?.attributes ?? []),
        droppedAttributesCount: rl.resource?.droppedAttributesCount ?? 0,
        schemaUrl: rl.schemaUrl,
      },
      scope: {
        name: sl.scope?.name ?? "",
        version: sl.scope?.version ?? "",
        attributes: fromKeyValues(sl.scope?.attributes ?? []),
        droppedAttributesCount: sl.scope?.droppedAttributesCount ?? 0,
        schemaUrl: sl.schemaUrl,
      },
    })),
  );
}

function otlpFields(r: PipelineRecord) {
  const { eventId, kind, origin, routes, ...rest } = r;
  return rest;
}

describe("toOtlpJsonLines", () => {
  it("round-trips every field through the gateway's OTLP/JSON converter", () => {
    const resource = makeResource({
      attributes: {
        "service.name": "checkout",
        "k8s.pod.uid": "a1",
        "process.pid": 4242n,
        weird: { nested: [1n, "two", 3.5, false, null] },
      },
      droppedAttributesCount: 3,
      schemaUrl: "https://opentelemetry.io/schemas/1.26.0",
    });
    const scope = makeScope({
      name: "io.opentelemetry.test",
      version: "9.9.9",
      attributes: { "scope.flag": true },
      droppedAttributesCount: 1,
      schemaUrl: "https://example.com/scope",
    });
    const records = [
      makeRecord({
        resource,
        scope,
        timeUnixNano: 18_446_744_073_709_551_615n,
        observedTimeUnixNano: 1n,
        severityNumber: 24,
        severityText: "FATAL4",
        body: {
          text: 'multi\nline ✓ 日本語 \u2028 "quoted"',
          max: 9_223_372_036_854_775_807n,
          min: -9_223_372_036_854_775_808n,
          nan: Number.NaN,
          inf: Number.POSITIVE_INFINITY,
          ninf: Number.NEGATIVE_INFINITY,
          negzero: -0,
          tiny: 5e-324,
          bytes: new Uint8Array([0, 255, 128, 1]),
          empty: null,
          emptyList: [],
          emptyMap: {},
          emptyString: "",
          zero: 0n,
          no: false,
        },
        attributes: { "http.route": "/a/{id}", list: [[1n], { k: new Uint8Array([]) }] },
        droppedAttributesCount: 7,
        flags: 0x0101,
        traceId: "5b8efff798038103d269b633813fc60c",
        spanId: "eee19b7ec3c1b174",
        eventName: "browser.page_view",
      }),
      makeRecord({ resource, scope, body: "second", attributes: {} }),
      makeRecord({ resource, scope, body: null, timeUnixNano: 0n, severityNumber: 0, severityText: "" }),
      makeRecord({ resource, scope, body: 3.25 }),
      makeRecord({ resource, scope, body: [] }),
      makeRecord({ resource, scope, body: {} }),
    ];
    const lines = toOtlpJsonLines(records);
    expect(lines).toHaveLength(1);
    const back = readBack(lines[0] as string);
    expect(back).toHaveLength(records.length);
    records.forEach((r, i) => {
      expect(back[i]).toEqual(otlpFields(r));
    });
    // toEqual treats -0 and 0 alike; the sign must survive too.
    const body = back[0]?.body as Record<string, Value>;
    expect(Object.is(body.negzero, -0)).toBe(true);
    expect(Number.isNaN(body.nan)).toBe(true);
  });

  it("starts a new line whenever the resource or the scope object changes", () => {
    const r1 = makeResource();
    const r2 = makeResource({ attributes: { "service.name": "billing" } });
    const s1 = makeScope();
    const s2 = makeScope({ name: "other" });
    const records = [
      makeRecord({ resource: r1, scope: s1 }),
      makeRecord({ resource: r1, scope: s1 }),
      makeRecord({ resource: r1, scope: s2 }),
      makeRecord({ resource: r2, scope: s2 }),
      makeRecord({ resource: r1, scope: s1 }),
    ];
    const lines = toOtlpJsonLines(records);
    expect(lines.map((l) => readBack(l).length)).toEqual([2, 1, 1, 1]);
    expect(readBack(lines[2] as string)[0]?.resource.attributes["service.name"]).toBe("billing");
    expect(readBack(lines[1] as string)[0]?.scope.name).toBe("other");
    const text = toOtlpJsonLinesText(records);
    expect(text.endsWith("\n")).toBe(true);
    expect(text.split("\n")).toHaveLength(lines.length + 1);
  });

  it("uses the OTLP JSON spelling", () => {
    const line = toOtlpJsonLines([
      makeRecord({
        timeUnixNano: 5n,
        traceId: "5b8efff798038103d269b633813fc60c",
        severityNumber: 17,
        attributes: { n: 1n, b: new Uint8Array([1, 2]) },
      }),
    ])[0] as string;
    const json = JSON.parse(line);
    const lr = json.resourceLogs[0].scopeLogs[0].logRecords[0];
    expect(lr.timeUnixNano).toBe("5");
    expect(lr.traceId).toBe("5b8efff798038103d269b633813fc60c");
    expect(lr.severityNumber).toBe(17);
    expect(lr.attributes).toEqual([
      { key: "n", value: { intValue: "1" } },
      { key: "b", value: { bytesValue: "AQI=" } },
    ]);
    expect(lr).not.toHaveProperty("spanId");
    expect(lr).not.toHaveProperty("flags");
    expect(toOtlpJsonLines([])).toEqual([]);
    expect(toOtlpJsonLinesText([])).toBe("");
  });
});
