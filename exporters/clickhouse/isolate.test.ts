import { ClickHouseError } from "@clickhouse/client";
import { describe, expect, it } from "vitest";
import { SinkCode } from "../common/codes.js";
import { classifyClickHouseError } from "./errors.js";
import { BatchInsertError, insertIsolatingBadRows, subToken } from "./isolate.js";

const typeError = (row: number) =>
  new ClickHouseError({
    message: `Cannot parse input: expected '"' before: 'oops' (at row ${row + 1})`,
    code: "27",
    type: "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
  });

/**
 * A table that refuses any block holding a bad row, stores good blocks
 * atomically, and drops a block whose token it has seen, as ClickHouse does
 * with insert_deduplication_token.
 */
class FakeTable {
  readonly stored: number[] = [];
  readonly tokens = new Set<string>();
  readonly calls: Array<{ rows: number[]; token: string }> = [];
  unavailableAfter = Number.POSITIVE_INFINITY;

  constructor(private readonly bad: Set<number>) {}

  insert = async (rows: number[], token: string): Promise<void> => {
    this.calls.push({ rows, token });
    if (this.calls.length > this.unavailableAfter)
      throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    const firstBad = rows.findIndex((r) => this.bad.has(r));
    if (firstBad >= 0) throw typeError(firstBad);
    if (this.tokens.has(token)) return;
    this.tokens.add(token);
    for (const r of rows) this.stored.push(r);
  };
}

const rows = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("insertIsolatingBadRows", () => {
  it("inserts a clean batch in one call with the batch token", async () => {
    const t = new FakeTable(new Set());
    expect(await insertIsolatingBadRows(rows(10), "tok", t.insert)).toEqual([]);
    expect(t.calls).toEqual([{ rows: rows(10), token: "tok" }]);
    expect(t.stored).toEqual(rows(10));
  });

  it("isolates each bad row and stores every other row exactly once", async () => {
    const t = new FakeTable(new Set([3, 7]));
    const rejected = await insertIsolatingBadRows(rows(10), "tok", t.insert);
    expect(rejected.map((r) => r.index)).toEqual([3, 7]);
    expect(rejected[0]?.code).toBe(SinkCode.SINK_MAPPING_CONFLICT);
    expect(rejected[0]?.reason).toMatch(/^CANNOT_PARSE_INPUT_ASSERTION_FAILED: Cannot parse input/);
    expect([...t.stored].sort((a, b) => a - b)).toEqual([0, 1, 2, 4, 5, 6, 8, 9]);
    // Bisection: at most 2n-1 calls, and on a large batch far fewer than one per row.
    expect(t.calls.length).toBeLessThanOrEqual(19);
    const big = new FakeTable(new Set([3, 707]));
    expect((await insertIsolatingBadRows(rows(1000), "big", big.insert)).map((r) => r.index)).toEqual([
      3, 707,
    ]);
    expect(big.stored).toHaveLength(998);
    expect(big.calls.length).toBeLessThan(60);
    expect(t.calls.every((c) => c.token === "tok" || /^tok:\d+-\d+$/.test(c.token))).toBe(true);
  });

  it("walks the same ranges with the same tokens on an exact replay, so nothing is stored twice", async () => {
    const t = new FakeTable(new Set([2]));
    await insertIsolatingBadRows(rows(9), "tok", t.insert);
    const firstTokens = t.calls.map((c) => c.token);
    const storedOnce = [...t.stored];
    t.calls.length = 0;
    const again = await insertIsolatingBadRows(rows(9), "tok", t.insert);
    expect(again.map((r) => r.index)).toEqual([2]);
    expect(t.calls.map((c) => c.token)).toEqual(firstTokens);
    expect(t.stored).toEqual(storedOnce);
  });

  it("resumes after the server went away mid-way without storing twice", async () => {
    const t = new FakeTable(new Set([5]));
    t.unavailableAfter = 3;
    const err = await insertIsolatingBadRows(rows(8), "tok", t.insert).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatchInsertError);
    expect((err as BatchInsertError).failure.kind).toBe("unavailable");
    const partial = [...t.stored];
    expect(partial.length).toBeGreaterThan(0);
    t.unavailableAfter = Number.POSITIVE_INFINITY;
    const rejected = await insertIsolatingBadRows(rows(8), "tok", t.insert);
    expect(rejected.map((r) => r.index)).toEqual([5]);
    expect([...t.stored].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 6, 7]);
  });

  it("rejects every row of an all-bad batch and stops at single rows", async () => {
    const t = new FakeTable(new Set(rows(4)));
    const rejected = await insertIsolatingBadRows(rows(4), "tok", t.insert);
    expect(rejected.map((r) => r.index)).toEqual([0, 1, 2, 3]);
    expect(t.calls).toHaveLength(7);
  });

  it("does not split on failures that are not about the data", async () => {
    const denied = new ClickHouseError({
      message: "Not enough privileges",
      code: "497",
      type: "ACCESS_DENIED",
    });
    const calls: string[] = [];
    const err = await insertIsolatingBadRows(rows(4), "tok", async (_r, token) => {
      calls.push(token);
      throw denied;
    }).catch((e: unknown) => e);
    expect((err as BatchInsertError).failure.kind).toBe("config");
    expect(calls).toEqual(["tok"]);
  });

  it("derives sub-tokens from the batch token and the range", () => {
    expect(subToken("t", 0, 5)).toBe("t:0-5");
  });
});

describe("classifyClickHouseError", () => {
  const ch = (code: string, type: string) => new ClickHouseError({ message: "m", code, type });

  it("sorts server errors into data, configuration and availability", () => {
    expect(classifyClickHouseError(ch("53", "TYPE_MISMATCH"))).toMatchObject({
      kind: "data",
      recordCode: SinkCode.SINK_MAPPING_CONFLICT,
    });
    expect(classifyClickHouseError(ch("469", "VIOLATED_CONSTRAINT"))).toMatchObject({
      kind: "data",
      recordCode: SinkCode.SINK_REJECTED,
    });
    expect(classifyClickHouseError(ch("60", "UNKNOWN_TABLE")).kind).toBe("config");
    expect(classifyClickHouseError(ch("516", "AUTHENTICATION_FAILED")).kind).toBe("config");
    expect(classifyClickHouseError(ch("241", "MEMORY_LIMIT_EXCEEDED")).kind).toBe("unavailable");
    expect(classifyClickHouseError(ch("252", "TOO_MANY_PARTS")).kind).toBe("unavailable");
  });

  it("treats transport failures as unavailable", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8123"), { code: "ECONNREFUSED" });
    expect(classifyClickHouseError(refused)).toEqual({
      kind: "unavailable",
      reason: "ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:8123",
    });
    expect(classifyClickHouseError(new Error("Timeout error.")).kind).toBe("unavailable");
  });
});
