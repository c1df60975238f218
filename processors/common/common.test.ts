import { describe, expect, it } from "vitest";
import { z } from "zod";
import { AttributeCondition } from "./condition.js";
import { attributeConditionSchema, durationSchema } from "./config.js";
import { compileRegex, compileTextMatcher } from "./regex.js";
import { severityFromText, severityLevelSchema, syslogSeverityNumber } from "./severity.js";
import { testRecord, testResource } from "./testing.js";
import { cloneValue, configValue, recordOrResourceValue, setAttribute, valueToJsonText } from "./values.js";

describe("values", () => {
  it("reads own attributes only, record before resource", () => {
    const r = testRecord({ attributes: { a: "rec" }, resource: testResource({ a: "res", b: "res-b" }) });
    expect(recordOrResourceValue(r, "a")).toBe("rec");
    expect(recordOrResourceValue(r, "b")).toBe("res-b");
    expect(recordOrResourceValue(r, "constructor")).toBeUndefined();
    expect(recordOrResourceValue(r, "__proto__")).toBeUndefined();
  });

  it("sets a __proto__ key as data", () => {
    const attrs = {};
    setAttribute(attrs, "__proto__", "x");
    expect(Object.getPrototypeOf(attrs)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(attrs, "__proto__")?.value).toBe("x");
  });

  it("prints structured values as JSON-like text", () => {
    expect(valueToJsonText({ a: [1n, 2.5, null, true, 'x"y'], b: new Uint8Array([1, 2]) })).toBe(
      '{"a":[1,2.5,null,true,"x\\"y"],"b":"AQI="}',
    );
  });

  it("converts config values and copies structures", () => {
    expect(configValue({ n: 3, f: 1.5, s: "x", l: [1, { b: false }], z: null })).toEqual({
      n: 3n,
      f: 1.5,
      s: "x",
      l: [1n, { b: false }],
      z: null,
    });
    const v = { a: [1n] };
    const c = cloneValue(v) as { a: bigint[] };
    c.a.push(2n);
    expect(v.a).toEqual([1n]);
  });
});

describe("severity", () => {
  it("maps words in any case and refuses unknown thresholds with the allowed values", () => {
    expect(severityFromText("WARN")).toBe(13);
    expect(severityFromText(" Error ")).toBe(17);
    expect(severityFromText("constructor")).toBe(0);
    expect(syslogSeverityNumber(0)).toBe(21);
    expect(syslogSeverityNumber(8)).toBe(0);
    const schema = severityLevelSchema("x");
    expect(schema.parse("warn")).toBe(13);
    expect(schema.parse(20)).toBe(20);
    const r = schema.safeParse("loud");
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(
      /TRACE, DEBUG, INFO, WARN, ERROR, FATAL or a severity number 1\.\.24/,
    );
    expect(schema.safeParse(25).success).toBe(false);
  });
});

describe("regex helpers", () => {
  it("turns a leading (?i) into a flag and uses unicode mode when it can", () => {
    expect(compileRegex("(?i)abc").test("ABC")).toBe(true);
    expect(compileRegex("^.$").test("🚀")).toBe(true);
    // Valid only outside unicode mode; still accepted.
    expect(compileRegex('\\"\\-').test('"-')).toBe(true);
    expect(() => compileRegex("(?x)a")).toThrow(/not supported/);
  });

  it("text matchers are exact unless written /like this/", () => {
    expect(compileTextMatcher("checkout.done").test("checkout.done")).toBe(true);
    expect(compileTextMatcher("checkout.done").test("checkoutXdone")).toBe(false);
    expect(compileTextMatcher("/^checkout\\./i").test("CHECKOUT.started")).toBe(true);
  });
});

describe("attribute conditions", () => {
  const cond = (c: unknown) => new AttributeCondition(attributeConditionSchema.parse(c));
  const r = testRecord({
    attributes: { status: 200n, ratio: 0.5, ok: true, tags: ["a"], empty: null },
    resource: testResource({ "service.name": "checkout" }),
  });

  it("compares values as text, with record then resource attributes", () => {
    expect(cond({ key: "status", equals: 200 }).test(r)).toBe(true);
    expect(cond({ key: "status", equals: "200" }).test(r)).toBe(true);
    expect(cond({ key: "ratio", equals: 0.5 }).test(r)).toBe(true);
    expect(cond({ key: "ok", equals: true }).test(r)).toBe(true);
    expect(cond({ key: "service.name", matches: "^check" }).test(r)).toBe(true);
    expect(cond({ key: "tags", equals: "a" }).test(r)).toBe(false);
    expect(cond({ key: "status", matches: "^2\\d\\d$", equals: 201 }).test(r)).toBe(false);
  });

  it("exists, absent and null", () => {
    expect(cond({ key: "empty" }).test(r)).toBe(true);
    expect(cond({ key: "missing" }).test(r)).toBe(false);
    expect(cond({ key: "missing", exists: false }).test(r)).toBe(true);
    expect(cond({ key: "status", exists: false }).test(r)).toBe(false);
    expect(attributeConditionSchema.safeParse({ key: "a", exists: false, equals: 1 }).success).toBe(false);
  });
});

describe("duration config", () => {
  it("parses durations and explains bad ones", () => {
    const s = z.strictObject({ d: durationSchema("d") });
    expect(s.parse({ d: "1m30s" }).d).toBe(90_000);
    expect(s.safeParse({ d: "soon" }).error?.issues[0]?.message).toMatch(/d: expected a duration/);
  });
});
