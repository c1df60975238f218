import { describe, expect, it } from "vitest";
import { flattenAttributes } from "./flatten.js";

describe("flattenAttributes", () => {
  it("dots nested kvlists and writes other values as text", () => {
    expect(
      flattenAttributes({
        "http.method": "GET",
        http: { status_code: 200n, request: { size: 1.5, ok: true } },
        tags: ["a", 1n, { x: null }],
        raw: new Uint8Array([255]),
        nothing: null,
        empty: {},
        big: 2n ** 63n - 1n,
        nan: Number.NaN,
      }),
    ).toEqual({
      "http.method": "GET",
      "http.status_code": "200",
      "http.request.size": "1.5",
      "http.request.ok": "true",
      tags: '["a",1,{"x":null}]',
      raw: "/w==",
      nothing: "",
      empty: "{}",
      big: "9223372036854775807",
      nan: "NaN",
    });
  });

  it("lets the later of two colliding keys win", () => {
    expect(flattenAttributes({ "a.b": "first", a: { b: "second" } })).toEqual({ "a.b": "second" });
    expect(flattenAttributes({ a: { b: "first" }, "a.b": "second" })).toEqual({ "a.b": "second" });
  });

  it("keeps awkward keys as data", () => {
    const out = flattenAttributes(JSON.parse('{"__proto__": {"x": "1"}, "": "empty key"}'));
    expect(Object.keys(out).sort()).toEqual(["", "__proto__.x"]);
    const out2 = flattenAttributes(JSON.parse('{"__proto__": "v"}'));
    expect(Object.keys(out2)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(out2)).toBe(Object.prototype);
  });
});
