import { describe, expect, it } from "vitest";
import { RestartBackoff } from "./restart-backoff.js";

describe("worker restart backoff", () => {
  const policy = { initialMs: 100, maxMs: 1000, resetAfterMs: 5000 };

  it("doubles with each quick death, up to the cap", () => {
    const b = new RestartBackoff(policy);
    expect([0, 0, 0, 0, 0, 0].map(() => b.next(10))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it("starts over after a worker ran long enough", () => {
    const b = new RestartBackoff(policy);
    b.next(10);
    b.next(10);
    expect(b.next(10)).toBe(400);
    expect(b.next(5000)).toBe(100);
    expect(b.next(10)).toBe(200);
  });

  it("stays at the cap however many deaths there are", () => {
    const b = new RestartBackoff(policy);
    for (let i = 0; i < 100; i++) b.next(0);
    expect(b.next(0)).toBe(1000);
  });
});
