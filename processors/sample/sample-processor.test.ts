import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { CTX, counterValue, testDeps, testRecord, testResource } from "../common/testing.js";
import { DROPPED_RECORDS, PROCESSED_RECORDS } from "../metrics.js";
import { fmix32, hashKey } from "./hash.js";
import { SAMPLED, sampleConfigSchema, sampleProcessorFactory } from "./index.js";

function sampler(config: Record<string, unknown>, deps = testDeps()) {
  return sampleProcessorFactory.create("sample", sampleProcessorFactory.configSchema.parse(config), deps);
}

const traceIds = (n: number) => Array.from({ length: n }, () => randomBytes(16).toString("hex"));
const kept = (config: Record<string, unknown>, records: PipelineRecord[]) =>
  sampler(config).process(records, CTX);

/** FNV-1a + fmix32 over TextEncoder's bytes, to check the streaming UTF-8 in hashKey. */
function referenceHash(key: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (const b of new TextEncoder().encode(key)) h = Math.imul(h ^ b, 0x01000193);
  return fmix32(h);
}

describe("sample: hash", () => {
  it("hashes UTF-8 bytes, whatever the script, lone surrogates as U+FFFD", () => {
    for (const key of [
      "",
      "a",
      "4bf92f3577b34da6a3ce929d0e0e4736",
      "é",
      "日本語",
      "🚀🔥",
      "مرحبا",
      "x\ud800y",
      "\udc00",
    ]) {
      expect(hashKey(key)).toBe(referenceHash(key));
      expect(hashKey(key, 12345)).toBe(referenceHash(key, 12345));
    }
  });

  it("is a fixed function of the key (stable across processes and releases)", () => {
    expect(hashKey("4bf92f3577b34da6a3ce929d0e0e4736")).toBe(
      referenceHash("4bf92f3577b34da6a3ce929d0e0e4736"),
    );
    expect(hashKey("")).toBe(fmix32(0x811c9dc5));
  });
});

describe("sample", () => {
  it("two instances make the same decision for every key", () => {
    const ids = traceIds(5000);
    const a = new Set(
      kept(
        { rate: 0.3 },
        ids.map((traceId) => testRecord({ traceId })),
      ).map((r) => r.traceId),
    );
    const b = new Set(
      kept(
        { rate: 0.3 },
        ids.map((traceId) => testRecord({ traceId })),
      ).map((r) => r.traceId),
    );
    expect(a).toEqual(b);
    expect(a.size).toBeGreaterThan(0);
  });

  it("keeps or drops all records of one trace together", () => {
    const ids = traceIds(500);
    const records = ids.flatMap((traceId) => [1, 2, 3].map(() => testRecord({ traceId })));
    const out = kept({ rate: 0.5 }, records);
    const counts = new Map<string, number>();
    for (const r of out) counts.set(r.traceId, (counts.get(r.traceId) ?? 0) + 1);
    expect([...counts.values()].every((n) => n === 3)).toBe(true);
  });

  it.each([0.01, 0.1, 0.5, 0.9])("keeps close to rate %s of 100k keys", (rate) => {
    const records = traceIds(100_000).map((traceId) => testRecord({ traceId }));
    const observed = kept({ rate }, records).length / 100_000;
    // Binomial standard deviation is at most 0.0016 here; 0.005 is over three of them.
    expect(Math.abs(observed - rate)).toBeLessThan(0.005);
  });

  it("rate 0 drops and rate 1 keeps everything below the error threshold", () => {
    const make = () => traceIds(1000).map((traceId) => testRecord({ traceId, severityNumber: 9 }));
    expect(kept({ rate: 0 }, make())).toHaveLength(0);
    expect(kept({ rate: 1 }, make())).toHaveLength(1000);
  });

  it("keeps errors regardless (threshold configurable, null disables) and events unless sample_events", () => {
    const make = () => [
      testRecord({ traceId: "t1", severityNumber: 17 }),
      testRecord({ traceId: "t2", severityNumber: 21 }),
      testRecord({ traceId: "t3", severityNumber: 13 }),
      testRecord({ traceId: "t4", kind: "events", eventName: "click" }),
    ];
    expect(kept({ rate: 0 }, make()).map((r) => r.traceId)).toEqual(["t1", "t2", "t4"]);
    expect(kept({ rate: 0, always_keep_severity_at_least: "WARN" }, make()).map((r) => r.traceId)).toEqual([
      "t1",
      "t2",
      "t3",
      "t4",
    ]);
    expect(kept({ rate: 0, always_keep_severity_at_least: null, sample_events: true }, make())).toHaveLength(
      0,
    );
  });

  it("falls back to the event id when the trace id is empty", () => {
    const s = sampler({ rate: 0.5 });
    const withTrace = testRecord({ traceId: "abc", eventId: "e1" });
    const noTrace = testRecord({ traceId: "", eventId: "e1" });
    expect((s as unknown as { keyOf(r: PipelineRecord): string }).keyOf(withTrace)).toBe("abc");
    expect((s as unknown as { keyOf(r: PipelineRecord): string }).keyOf(noTrace)).toBe("e1");
    const ids = Array.from({ length: 2000 }, (_, i) => `event-${i}`);
    const out = kept(
      { rate: 0.5 },
      ids.map((eventId) => testRecord({ eventId })),
    );
    expect(out.length).toBeGreaterThan(800);
    expect(out.length).toBeLessThan(1200);
  });

  it("samples by an attribute (record first, then resource), consistently per value", () => {
    const users = Array.from({ length: 300 }, (_, i) => `user-${i}-名前`);
    const records = users.flatMap((u) => [
      testRecord({ attributes: { "user.id": u } }),
      testRecord({ resource: testResource({ "user.id": u }) }),
    ]);
    const out = kept({ rate: 0.5, key: "attribute:user.id" }, records);
    const values = out.map((r) => r.attributes["user.id"] ?? r.resource.attributes["user.id"]);
    const counts = new Map<unknown, number>();
    for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
    expect([...counts.values()].every((n) => n === 2)).toBe(true);
  });

  it("a different hash_seed makes independent decisions", () => {
    const ids = traceIds(2000);
    const a = kept(
      { rate: 0.5 },
      ids.map((traceId) => testRecord({ traceId })),
    ).map((r) => r.traceId);
    const b = new Set(
      kept(
        { rate: 0.5, hash_seed: 7 },
        ids.map((traceId) => testRecord({ traceId })),
      ).map((r) => r.traceId),
    );
    const both = a.filter((id) => b.has(id)).length;
    expect(both / a.length).toBeGreaterThan(0.4);
    expect(both / a.length).toBeLessThan(0.6);
  });

  it("filters the batch in place and counts drops as sampled", async () => {
    const deps = testDeps();
    const batch = traceIds(1000).map((traceId) => testRecord({ traceId }));
    const out = sampler({ rate: 0.2 }, deps).process(batch, CTX);
    expect(out).toBe(batch);
    expect(await counterValue(deps, DROPPED_RECORDS, { processor: "sample", reason: SAMPLED })).toBe(
      1000 - out.length,
    );
    expect(await counterValue(deps, PROCESSED_RECORDS, { processor: "sample" })).toBe(1000);
    const empty: PipelineRecord[] = [];
    expect(sampler({ rate: 0.2 }).process(empty, CTX)).toBe(empty);
  });

  it("config", () => {
    expect(sampleConfigSchema.parse({ rate: 0.1 })).toEqual({
      rate: 0.1,
      key: "trace_id",
      always_keep_severity_at_least: 17,
      sample_events: false,
      hash_seed: 0,
    });
    expect(sampleConfigSchema.safeParse({}).success).toBe(false);
    expect(sampleConfigSchema.safeParse({ rate: 1.5 }).success).toBe(false);
    expect(sampleConfigSchema.safeParse({ rate: 0.1, key: "span_id" }).error?.issues[0]?.message).toMatch(
      /expected trace_id, event_id or attribute:<name>/,
    );
  });
});
