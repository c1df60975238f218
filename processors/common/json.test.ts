import { describe, expect, it } from "vitest";
import type { Value } from "../../core/pipeline/record.js";
import { JsonSyntaxError, parseJson, parseJsonObjectInto } from "./json.js";

describe("json reader", () => {
  it("reads the same structures JSON.parse does, with ints as bigint", () => {
    const text = '{"a":[1,-2,3.5,"x",true,false,null,{}],"b":{"c":[]}," sp ace ":"\\t"}';
    expect(parseJson(text)).toEqual({
      a: [1n, -2n, 3.5, "x", true, false, null, {}],
      b: { c: [] },
      " sp ace ": "\t",
    });
  });

  it("keeps 64-bit integers exact and spells out which tokens are doubles", () => {
    expect(parseJson("9007199254740993")).toBe(9007199254740993n);
    expect(parseJson("-9007199254740993")).toBe(-9007199254740993n);
    expect(parseJson("123456789012345")).toBe(123456789012345n);
    expect(parseJson("1234567890123456")).toBe(1234567890123456n);
    expect(parseJson("9223372036854775808")).toBe(2 ** 63);
    expect(parseJson("1.0")).toBe(1);
    expect(typeof parseJson("1.0")).toBe("number");
    expect(parseJson("-0")).toBe(0n);
    expect(parseJson("1E-2")).toBe(0.01);
    expect(parseJson("2e+3")).toBe(2000);
  });

  it("decodes escapes, including surrogate pairs, and keeps raw unicode", () => {
    expect(parseJson('"\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\ud83d\\ude80 日本 שלום"')).toBe(
      '"\\/\b\f\n\r\tA🚀 日本 שלום',
    );
    expect(parseJson('["a\\nb","plain","c\\"d"]')).toEqual(["a\nb", "plain", 'c"d']);
  });

  it("rejects malformed documents with a position", () => {
    const bad = [
      "",
      "{",
      '{"a"}',
      '{"a":}',
      "[1,]",
      "01",
      "1.",
      "-",
      ".5",
      "tru",
      '"\\q"',
      '"\\u12"',
      "{} {}",
      "[1 2]",
      '{"a":1,}',
      "'a'",
      "NaN",
    ];
    for (const text of bad) {
      expect(() => parseJson(text), text).toThrow(JsonSyntaxError);
    }
    expect(() => parseJson('{"a": x}')).toThrow(/at position 6/);
  });

  it("limits nesting depth instead of overflowing the stack", () => {
    expect(() => parseJson("[".repeat(100_000))).toThrow(/nested too deeply/);
    expect(parseJson(`${"[".repeat(500)}${"]".repeat(500)}`)).toBeInstanceOf(Array);
  });

  it("hands top-level members to a sink in document order, and reports non-objects", () => {
    const seen: [string, Value][] = [];
    const sink = { add: (k: string, v: Value) => seen.push([k, v]) };
    expect(parseJsonObjectInto(' {"b":1,"a":{"x":2},"b":3} ', sink)).toBeUndefined();
    expect(seen).toEqual([
      ["b", 1n],
      ["a", { x: 2n }],
      ["b", 3n],
    ]);
    expect(parseJsonObjectInto("[1]", sink)).toBeNull();
    expect(parseJsonObjectInto("[1", sink)).toMatch(/unexpected end|expected/);
  });
});
