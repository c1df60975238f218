import { describe, expect, it } from "vitest";
import { batchEnd } from "./batch-end.js";

const of = (...sizes: number[]) => sizes.map((n) => ({ value: new Uint8Array(n) }));

describe("batchEnd", () => {
  it("stops at the message count", () => {
    expect(batchEnd(of(1, 1, 1, 1, 1), 0, 3)).toBe(3);
    expect(batchEnd(of(1, 1, 1, 1, 1), 3, 3)).toBe(5);
  });

  it("stops before the message that would pass the byte cap", () => {
    expect(batchEnd(of(40, 40, 40, 40), 0, 100, 100)).toBe(2);
    expect(batchEnd(of(40, 40, 40, 40), 2, 100, 80)).toBe(4);
  });

  it("always takes one message, however large", () => {
    expect(batchEnd(of(500, 1), 0, 100, 100)).toBe(1);
  });

  it("counts a null value as zero bytes", () => {
    expect(batchEnd([{ value: null }, { value: null }], 0, 10, 0)).toBe(2);
  });
});
