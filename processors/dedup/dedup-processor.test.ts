import { describe, expect, it } from "vitest";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { counterValue, testDeps, testRecord } from "../common/testing.js";
import { DROPPED_RECORDS } from "../metrics.js";
import { DedupProcessor, DUPLICATE, dedupConfigSchema, dedupProcessorFactory, IdWindow } from "./index.js";

let offset = 0n;
/** A record at a new log position, as a client retry or a second send would be. */
const rec = (eventId: string) => {
  const r = testRecord({ eventId });
  r.origin.offset = ++offset;
  return r;
};
const ids = (records: PipelineRecord[]) => records.map((r) => r.eventId);
const P0 = { topic: "sluice.logs", partition: 0 };
const P1 = { topic: "sluice.logs", partition: 1 };

function dedup(config: Record<string, unknown> = {}, deps = testDeps()) {
  return dedupProcessorFactory.create("dedup", dedupProcessorFactory.configSchema.parse(config), deps);
}

describe("dedup", () => {
  it("drops duplicates inside one batch and across batches", async () => {
    const deps = testDeps();
    const d = dedup({}, deps);
    const first = [rec("a"), rec("b"), rec("a"), rec("c"), rec("b")];
    const out = d.process(first, P0);
    expect(out).toBe(first);
    expect(ids(out)).toEqual(["a", "b", "c"]);
    expect(ids(d.process([rec("c"), rec("d"), rec("a")], P0))).toEqual(["d"]);
    expect(await counterValue(deps, DROPPED_RECORDS, { processor: "dedup", reason: DUPLICATE })).toBe(4);
  });

  it("keeps one window per topic and partition", () => {
    const d = dedup();
    expect(ids(d.process([rec("a")], P0))).toEqual(["a"]);
    expect(ids(d.process([rec("a")], P1))).toEqual(["a"]);
    expect(ids(d.process([rec("a")], { topic: "sluice.events", partition: 0 }))).toEqual(["a"]);
    expect(ids(d.process([rec("a")], P1))).toEqual([]);
  });

  it("forgets the oldest ids beyond window_size", () => {
    const d = dedup({ window_size: 3 });
    expect(ids(d.process([rec("a"), rec("b"), rec("c"), rec("d")], P0))).toEqual(["a", "b", "c", "d"]);
    // "a" was evicted by "d"; "b".."d" are remembered until newer ids push them out.
    expect(ids(d.process([rec("d"), rec("c"), rec("a")], P0))).toEqual(["a"]);
    expect(ids(d.process([rec("b"), rec("a")], P0))).toEqual(["b"]);
    expect((d as DedupProcessor).window(P0.topic, P0.partition)?.size).toBe(3);
  });

  it("a duplicate does not refresh its place in the window", () => {
    const d = dedup({ window_size: 2 });
    d.process([rec("a"), rec("b"), rec("a"), rec("c")], P0);
    expect(ids(d.process([rec("a")], P0))).toEqual(["a"]);
  });

  it("with a ttl, ids older than the ttl count as new", () => {
    let now = 1_000;
    const d = new DedupProcessor("dedup", dedupConfigSchema.parse({ ttl: "10s" }), testDeps(), () => now);
    expect(ids(d.process([rec("a")], P0))).toEqual(["a"]);
    now += 9_999;
    expect(ids(d.process([rec("a"), rec("b")], P0))).toEqual(["b"]);
    now += 1;
    expect(ids(d.process([rec("a"), rec("b")], P0))).toEqual(["a"]);
    expect(d.window(P0.topic, P0.partition)?.size).toBe(2);
  });

  it("a replayed batch (same records at the same log positions) passes again", () => {
    const d = dedup();
    const batch = [rec("a"), rec("b"), rec("a")];
    expect(ids(d.process([...batch], P0))).toEqual(["a", "b"]);
    // After a rebalance the consumer reads the same messages again from its last commit.
    expect(ids(d.process([...batch], P0))).toEqual(["a", "b"]);
    const envelope = [0, 1].map((index) => {
      const r = testRecord({ eventId: "same-envelope" });
      r.origin.offset = 999n;
      r.origin.index = index;
      return r;
    });
    expect(d.process(envelope, P0)).toHaveLength(1);
  });

  it("never drops records without an event id", () => {
    expect(ids(dedup().process([rec(""), rec(""), rec("x")], P0))).toEqual(["", "", "x"]);
  });

  it("stays within window_size over many ids", () => {
    const w = new IdWindow(1000, null);
    for (let i = 0; i < 100_000; i++) w.isDuplicate(`id-${i}`, BigInt(i), 0, 0);
    expect(w.size).toBe(1000);
    expect(w.isDuplicate("id-99999", -1n, 0, 0)).toBe(true);
    expect(w.isDuplicate("id-98999", -1n, 0, 0)).toBe(false);
  });

  it("an empty batch passes through", () => {
    const empty: PipelineRecord[] = [];
    expect(dedup().process(empty, P0)).toBe(empty);
  });

  it("config", () => {
    expect(dedupConfigSchema.parse({})).toEqual({ window_size: 100_000, ttl: null });
    expect(dedupConfigSchema.parse({ ttl: "5m" }).ttl).toBe(300_000);
    expect(dedupConfigSchema.safeParse({ window_size: 0 }).success).toBe(false);
    expect(dedupConfigSchema.safeParse({ ttl: "forever" }).error?.issues[0]?.message).toMatch(
      /ttl: expected a duration/,
    );
  });
});
