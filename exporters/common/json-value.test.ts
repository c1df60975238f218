import { describe, expect, it } from "vitest";
import { toJsonValue, toSearchDocument, valueText } from "./json-value.js";
import { BASE_TIME_NS, makeRecord, makeResource, makeScope } from "./test-support.js";

describe("toJsonValue", () => {
  it("keeps ints exact: numbers up to 2^53, decimal strings past it", () => {
    expect(toJsonValue(42n)).toBe(42);
    expect(toJsonValue(-(2n ** 53n))).toBe(-(2 ** 53));
    expect(toJsonValue(2n ** 53n)).toBe(2 ** 53);
    expect(toJsonValue(2n ** 53n + 1n)).toBe("9007199254740993");
    expect(toJsonValue(-(2n ** 63n))).toBe("-9223372036854775808");
  });

  it("spells doubles JSON has no number for as strings", () => {
    expect(toJsonValue(1.5)).toBe(1.5);
    expect(toJsonValue(Number.NaN)).toBe("NaN");
    expect(toJsonValue(Number.POSITIVE_INFINITY)).toBe("Infinity");
    expect(toJsonValue(Number.NEGATIVE_INFINITY)).toBe("-Infinity");
  });

  it("turns bytes into base64 and walks arrays and kvlists", () => {
    const v = toJsonValue({
      raw: new Uint8Array([0, 1, 2, 250]),
      list: [true, null, "x", 7n, [1.25]],
      nested: { deep: { n: 3n } },
    });
    expect(v).toEqual({ raw: "AAEC+g==", list: [true, null, "x", 7, [1.25]], nested: { deep: { n: 3 } } });
    expect(JSON.parse(JSON.stringify(v))).toEqual(v);
  });

  it("keeps a __proto__ key as data", () => {
    const attrs = JSON.parse('{"__proto__": "x", "a": "b"}');
    const v = toJsonValue(attrs) as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(["__proto__", "a"]);
    expect(JSON.stringify(v)).toBe('{"__proto__":"x","a":"b"}');
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
  });
});

describe("valueText", () => {
  it("leaves strings alone and writes everything else as JSON text", () => {
    expect(valueText('plain "text"')).toBe('plain "text"');
    expect(valueText(null)).toBe("");
    expect(valueText(true)).toBe("true");
    expect(valueText(12n)).toBe("12");
    expect(valueText(0.5)).toBe("0.5");
    expect(valueText(Number.NaN)).toBe("NaN");
    expect(valueText(new Uint8Array([104, 105]))).toBe("aGk=");
    expect(valueText(["a", 1n])).toBe('["a",1]');
    expect(valueText({ k: "v" })).toBe('{"k":"v"}');
  });
});

describe("toSearchDocument", () => {
  it("follows the otel-mode shape with every field set", () => {
    const r = makeRecord({
      eventId: "0123456789abcdef0123456789abcdef",
      kind: "events",
      eventName: "user.login",
      severityNumber: 13,
      severityText: "WARN",
      traceId: "5b8efff798038103d269b633813fc60c",
      spanId: "eee19b7ec3c1b174",
      flags: 1,
      body: { message: "hi", count: 3n },
      attributes: { "user.id": "u1", big: 2n ** 60n },
      droppedAttributesCount: 2,
      resource: makeResource({
        droppedAttributesCount: 1,
        schemaUrl: "https://opentelemetry.io/schemas/1.26.0",
      }),
      scope: makeScope({ attributes: { lib: "x" }, droppedAttributesCount: 4, schemaUrl: "s" }),
    });
    const doc = toSearchDocument(r);
    expect(doc).toEqual({
      "@timestamp": "2024-05-01T12:34:56.123Z",
      time_unix_nano: BASE_TIME_NS.toString(),
      observed_timestamp: "2024-05-01T12:34:56.124Z",
      observed_time_unix_nano: (BASE_TIME_NS + 1_000_000n).toString(),
      event_id: "0123456789abcdef0123456789abcdef",
      kind: "events",
      event_name: "user.login",
      severity_text: "WARN",
      severity_number: 13,
      trace_id: "5b8efff798038103d269b633813fc60c",
      span_id: "eee19b7ec3c1b174",
      flags: 1,
      body: { structured: { message: "hi", count: 3 } },
      attributes: { "user.id": "u1", big: "1152921504606846976" },
      dropped_attributes_count: 2,
      resource: {
        attributes: { "service.name": "checkout", "host.name": "node-1" },
        dropped_attributes_count: 1,
        schema_url: "https://opentelemetry.io/schemas/1.26.0",
      },
      scope: {
        name: "app.logger",
        version: "1.2.3",
        attributes: { lib: "x" },
        dropped_attributes_count: 4,
        schema_url: "s",
      },
    });
    expect(Object.keys(doc).slice(0, 4)).toEqual([
      "@timestamp",
      "time_unix_nano",
      "observed_timestamp",
      "observed_time_unix_nano",
    ]);
  });

  it("leaves out empty fields and falls back to observed, then receive time", () => {
    const r = makeRecord({
      timeUnixNano: 0n,
      observedTimeUnixNano: 0n,
      severityNumber: 0,
      severityText: "",
      body: null,
      attributes: {},
      scope: makeScope({ name: "", version: "" }),
    });
    const doc = toSearchDocument(r);
    expect(doc.time_unix_nano).toBe(r.origin.receiveTimeUnixNano.toString());
    expect(doc["@timestamp"]).toBe("2024-05-01T12:34:56.125Z");
    for (const k of [
      "observed_timestamp",
      "severity_text",
      "severity_number",
      "body",
      "trace_id",
      "event_name",
    ]) {
      expect(doc).not.toHaveProperty(k);
    }
    expect(doc.attributes).toEqual({});
    expect(doc.scope).toEqual({ attributes: {} });

    const observedOnly = toSearchDocument(makeRecord({ timeUnixNano: 0n }));
    expect(observedOnly.time_unix_nano).toBe((BASE_TIME_NS + 1_000_000n).toString());
  });

  it("puts scalar bodies in body.text and array bodies under body.structured.value", () => {
    expect(toSearchDocument(makeRecord({ body: "hello" })).body).toEqual({ text: "hello" });
    expect(toSearchDocument(makeRecord({ body: 5n })).body).toEqual({ text: "5" });
    expect(toSearchDocument(makeRecord({ body: new Uint8Array([1]) })).body).toEqual({ text: "AQ==" });
    expect(toSearchDocument(makeRecord({ body: ["a", { b: 1n }] })).body).toEqual({
      structured: { value: ["a", { b: 1 }] },
    });
  });

  it("writes the largest OTLP time with a four-digit year", () => {
    const doc = toSearchDocument(makeRecord({ timeUnixNano: 2n ** 64n - 1n }));
    expect(doc["@timestamp"]).toBe("2554-07-21T23:34:33.709Z");
    expect(doc.time_unix_nano).toBe("18446744073709551615");
  });
});
