import { describe, expect, it } from "vitest";
import { bodyIndexText, indexText } from "./fts-text.js";

describe("index text", () => {
  it("lists scalar values one per line, with real newlines kept", () => {
    expect(indexText({ a: "x\ny", b: [1, true, null, { c: "deep" }], d: {} })).toBe("x\ny\n1\ntrue\ndeep");
    expect(indexText({})).toBe("");
  });

  it("indexes string bodies as they are and structured bodies by their values", () => {
    expect(bodyIndexText('plain {"json": 1}')).toBe('plain {"json": 1}');
    expect(bodyIndexText({ msg: "line one\nline two", n: 5n })).toBe("line one\nline two\n5");
    expect(bodyIndexText(["a", 2.5])).toBe("a\n2.5");
    expect(bodyIndexText(null)).toBe("");
    expect(bodyIndexText(false)).toBe("false");
  });
});
