import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, SluiceError } from "../../core/errors.js";
import type { LogMessage, StoredMessage } from "../log.js";
import { partitionFor } from "../partitioner.js";
import { EmbeddedLog, type EmbeddedLogOptions } from "./embedded-log.js";

const enc = new TextEncoder();
const dec = new TextDecoder();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function msg(key: string, value: string): LogMessage {
  return { key: enc.encode(key), value: enc.encode(value) };
}

let dir: string;
const open: EmbeddedLog[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sluice-embedded-"));
});

afterEach(async () => {
  for (const log of open.splice(0)) await log.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

async function openLog(overrides: Partial<EmbeddedLogOptions> = {}): Promise<EmbeddedLog> {
  const log = new EmbeddedLog({
    path: join(dir, "nested", "log.db"),
    partitions: 4,
    retention: { maxAgeMs: undefined, maxBytes: undefined },
    ...overrides,
  });
  open.push(log);
  await log.start();
  return log;
}

async function closeLog(log: EmbeddedLog): Promise<void> {
  await log.shutdown();
  open.splice(open.indexOf(log), 1);
}

function readAll(log: EmbeddedLog, topic: string, partition: number, from = 0n): StoredMessage[] {
  const out: StoredMessage[] = [];
  let next = from;
  for (;;) {
    const chunk = log.read(topic, partition, next, 1000);
    if (chunk.length === 0) return out;
    out.push(...chunk);
    next = (chunk[chunk.length - 1] as StoredMessage).offset + 1n;
  }
}

function readTopic(log: EmbeddedLog, topic: string): StoredMessage[] {
  const out: StoredMessage[] = [];
  for (let p = 0; p < log.partitionCount(topic); p++) out.push(...readAll(log, topic, p));
  return out;
}

function expectDense(messages: StoredMessage[], from: bigint): void {
  messages.forEach((m, i) => {
    expect(m.offset).toBe(from + BigInt(i));
  });
}

describe("EmbeddedLog appends and reads", () => {
  it("routes keys with partitionFor and reads back in order per partition", async () => {
    const log = await openLog();
    const keys = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"];
    for (let round = 0; round < 5; round++) {
      await log.append(
        "logs",
        keys.map((k) => msg(k, `${k}:${round}`)),
      );
    }
    expect(log.topics()).toEqual(["logs"]);
    expect(log.partitionCount("logs")).toBe(4);

    let total = 0;
    for (let p = 0; p < 4; p++) {
      const got = readAll(log, "logs", p);
      total += got.length;
      expectDense(got, 0n);
      for (const m of got) {
        expect(m.topic).toBe("logs");
        expect(m.partition).toBe(p);
        expect(partitionFor(m.key, 4)).toBe(p);
        expect(m.timestampMs).toBeGreaterThan(Date.now() - 60_000);
      }
      // Per key, the rounds come back in append order.
      for (const k of keys.filter((key) => partitionFor(enc.encode(key), 4) === p)) {
        const values = got.filter((m) => dec.decode(m.key) === k).map((m) => dec.decode(m.value));
        expect(values).toEqual([0, 1, 2, 3, 4].map((r) => `${k}:${r}`));
      }
      expect(log.endOffset("logs", p)).toBe(BigInt(got.length));
      expect(log.startOffset("logs", p)).toBe(0n);
    }
    expect(total).toBe(keys.length * 5);
  });

  it("round-trips arbitrary bytes, empty values and subarray views", async () => {
    const log = await openLog({ partitions: 1 });
    const backing = new Uint8Array([9, 9, 0, 255, 128, 7, 9, 9]);
    await log.append("bin", [
      { key: new Uint8Array(0), value: new Uint8Array(0) },
      { key: backing.subarray(2, 4), value: backing.subarray(3, 6) },
    ]);
    const [a, b] = readAll(log, "bin", 0);
    expect(a?.key.length).toBe(0);
    expect(a?.value.length).toBe(0);
    expect([...(b?.key ?? [])]).toEqual([0, 255]);
    expect([...(b?.value ?? [])]).toEqual([255, 128, 7]);
  });

  it("reads from an offset, honours maxMessages and tolerates unknown topics and partitions", async () => {
    const log = await openLog({ partitions: 1 });
    await log.append(
      "t",
      Array.from({ length: 10 }, (_, i) => msg("k", `v${i}`)),
    );
    const page = log.read("t", 0, 3n, 4);
    expect(page.map((m) => m.offset)).toEqual([3n, 4n, 5n, 6n]);
    expect(page.map((m) => dec.decode(m.value))).toEqual(["v3", "v4", "v5", "v6"]);
    expect(log.read("t", 0, 10n, 5)).toEqual([]);
    expect(log.read("t", 1, 0n, 5)).toEqual([]);
    expect(log.read("nope", 0, 0n, 5)).toEqual([]);
    expect(log.partitionCount("nope")).toBe(0);
    expect(log.endOffset("nope", 0)).toBe(0n);
    expect(log.startOffset("nope", 0)).toBe(0n);
    expect(log.endOffset("t", 7)).toBe(0n);
  });

  it("stops reading at the message whose value passes maxBytes, always returning one", async () => {
    const log = await openLog({ partitions: 1 });
    await log.append(
      "t",
      Array.from({ length: 10 }, (_, i) => msg("k", `v${i}`)),
    );
    // every value is 2 bytes: the 3rd message reaches 6 bytes and is the last read
    expect(log.read("t", 0, 0n, 10, 5).map((m) => m.offset)).toEqual([0n, 1n, 2n]);
    expect(log.read("t", 0, 0n, 10, 6).map((m) => m.offset)).toEqual([0n, 1n, 2n]);
    expect(log.read("t", 0, 4n, 10, 1).map((m) => m.offset)).toEqual([4n]);
    expect(log.read("t", 0, 0n, 2, 1000).map((m) => m.offset)).toEqual([0n, 1n]);
  });

  it("keeps offsets dense and continues them after reopening", async () => {
    const first = await openLog({ partitions: 2 });
    for (let i = 0; i < 20; i++) await first.append("t", [msg(`k${i % 5}`, `a${i}`)]);
    const ends = [first.endOffset("t", 0), first.endOffset("t", 1)];
    await closeLog(first);

    // The stored partition count wins over the option.
    const second = await openLog({ partitions: 7 });
    expect(second.partitionCount("t")).toBe(2);
    expect([second.endOffset("t", 0), second.endOffset("t", 1)]).toEqual(ends);
    for (let i = 0; i < 20; i++) await second.append("t", [msg(`k${i % 5}`, `b${i}`)]);
    let total = 0;
    for (let p = 0; p < 2; p++) {
      const all = readAll(second, "t", p);
      expectDense(all, 0n);
      total += all.length;
      expect(second.endOffset("t", p)).toBe(BigInt(all.length));
    }
    expect(total).toBe(40);
    // A topic created after reopening gets the new option.
    await second.append("fresh", [msg("k", "v")]);
    expect(second.partitionCount("fresh")).toBe(7);
  });
});

describe("EmbeddedLog group commit", () => {
  it("commits every append of one event-loop turn in a single transaction", async () => {
    const log = await openLog();
    const before = log.stats.flushes;
    const appends: Promise<void>[] = [];
    for (let i = 0; i < 200; i++)
      appends.push(log.append("t", [msg(`k${i}`, `v${i}`), msg(`k${i}`, `w${i}`)]));
    await Promise.all(appends);
    expect(log.stats.flushes - before).toBe(1);
    expect(log.stats.messages).toBe(400);
    expect(readTopic(log, "t")).toHaveLength(400);

    // Appends from a later turn form their own transaction.
    await log.append("t", [msg("x", "1")]);
    await log.append("t", [msg("x", "2")]);
    expect(log.stats.flushes - before).toBe(3);
  });

  it("splits a turn at maxBatchMessages without splitting an append, keeping order", async () => {
    const log = await openLog({ partitions: 1, maxBatchMessages: 10 });
    const appends: Promise<void>[] = [];
    for (let i = 0; i < 5; i++) {
      appends.push(
        log.append(
          "t",
          [0, 1, 2, 3].map((j) => msg("k", `${i}.${j}`)),
        ),
      );
    }
    // Bigger than the cap on its own: still written, in one piece.
    appends.push(
      log.append(
        "t",
        Array.from({ length: 25 }, (_, j) => msg("k", `big.${j}`)),
      ),
    );
    await Promise.all(appends);
    // [4+4] [4+4] [4] [25]
    expect(log.stats.flushes).toBe(4);
    const values = readAll(log, "t", 0).map((m) => dec.decode(m.value));
    expect(values.slice(0, 20)).toEqual([0, 1, 2, 3, 4].flatMap((i) => [0, 1, 2, 3].map((j) => `${i}.${j}`)));
    expect(values.slice(20)).toEqual(Array.from({ length: 25 }, (_, j) => `big.${j}`));
  });

  it("rejects a whole failed group with a retryable LOG_UNAVAILABLE and recovers", async () => {
    const log = await openLog({ partitions: 1 });
    await log.append("t", [msg("k", "before")]);
    const raw = new Database(join(dir, "nested", "log.db"));
    try {
      raw.exec(
        "CREATE TRIGGER boom BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END;",
      );
      const results = await Promise.allSettled([
        log.append("t", [msg("k", "a")]),
        log.append("t", [msg("k", "b"), msg("k", "c")]),
      ]);
      for (const r of results) {
        expect(r.status).toBe("rejected");
        const err = (r as PromiseRejectedResult).reason as SluiceError;
        expect(err).toBeInstanceOf(SluiceError);
        expect(err.code).toBe(ErrorCode.LOG_UNAVAILABLE);
        expect(err.retryable).toBe(true);
      }
      expect(log.isHealthy()).toBe(false);
      expect(log.stats.failedFlushes).toBe(1);
      // The failed transaction left nothing behind.
      expect(log.endOffset("t", 0)).toBe(1n);

      raw.exec("DROP TRIGGER boom");
    } finally {
      raw.close();
    }
    await log.append("t", [msg("k", "after")]);
    expect(log.isHealthy()).toBe(true);
    const all = readAll(log, "t", 0);
    expectDense(all, 0n);
    expect(all.map((m) => dec.decode(m.value))).toEqual(["before", "after"]);
  });

  it("rejects malformed messages alone, without failing the rest of the group", async () => {
    const log = await openLog();
    const bad = log.append("t", [{ key: "nope", value: new Uint8Array(1) } as unknown as LogMessage]);
    const good = log.append("t", [msg("k", "v")]);
    await expect(bad).rejects.toMatchObject({ code: ErrorCode.INVALID_DATA, retryable: false });
    await expect(good).resolves.toBeUndefined();
    await expect(log.append("", [msg("k", "v")])).rejects.toMatchObject({ code: ErrorCode.INVALID_DATA });
    expect(log.isHealthy()).toBe(true);
  });
});

describe("EmbeddedLog lifecycle", () => {
  it("flushes pending appends on shutdown and refuses new ones afterwards", async () => {
    const log = await openLog({ partitions: 1 });
    const pending = log.append("t", [msg("k", "last words")]);
    await log.shutdown();
    await expect(pending).resolves.toBeUndefined();
    expect(log.isHealthy()).toBe(false);
    const err = await log.append("t", [msg("k", "too late")]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SluiceError);
    expect((err as SluiceError).code).toBe(ErrorCode.SHUTTING_DOWN);
    expect((err as SluiceError).retryable).toBe(true);
    await log.shutdown();
    open.splice(open.indexOf(log), 1);

    const again = await openLog({ partitions: 1 });
    expect(readAll(again, "t", 0).map((m) => dec.decode(m.value))).toEqual(["last words"]);
  });

  it("refuses appends before start and rejects invalid options", async () => {
    const log = new EmbeddedLog({
      path: join(dir, "x.db"),
      partitions: 1,
      retention: { maxAgeMs: undefined, maxBytes: undefined },
    });
    expect(log.isHealthy()).toBe(false);
    await expect(log.append("t", [msg("k", "v")])).rejects.toMatchObject({
      code: ErrorCode.LOG_UNAVAILABLE,
      retryable: true,
    });
    const base = {
      path: join(dir, "y.db"),
      partitions: 1,
      retention: { maxAgeMs: undefined, maxBytes: undefined },
    };
    expect(() => new EmbeddedLog({ ...base, partitions: 0 })).toThrow(SluiceError);
    expect(() => new EmbeddedLog({ ...base, path: ":memory:" })).toThrow(SluiceError);
    expect(() => new EmbeddedLog({ ...base, retention: { maxAgeMs: -1, maxBytes: undefined } })).toThrow(
      SluiceError,
    );
    expect(() => new EmbeddedLog({ ...base, maxBatchMessages: 0 })).toThrow(SluiceError);
  });
});

describe("EmbeddedLog consumer groups", () => {
  it("stores commits durably per group, topic and partition, surviving reopen", async () => {
    const log = await openLog();
    expect(log.committed("g1", "t", 0)).toBeUndefined();
    log.commit("g1", "t", 0, 5n);
    log.commit("g1", "t", 1, 7n);
    log.commit("g2", "t", 0, 1n);
    log.commit("g1", "t", 0, 6n);
    expect(log.committed("g1", "t", 0)).toBe(6n);
    await closeLog(log);

    const again = await openLog();
    expect(again.committed("g1", "t", 0)).toBe(6n);
    expect(again.committed("g1", "t", 1)).toBe(7n);
    expect(again.committed("g2", "t", 0)).toBe(1n);
    expect(again.committed("g2", "t", 1)).toBeUndefined();
    expect(again.committed("g1", "other", 0)).toBeUndefined();
    // Offsets beyond 2^53 keep their precision.
    again.commit("g3", "t", 0, 9_007_199_254_740_993n);
    expect(again.committed("g3", "t", 0)).toBe(9_007_199_254_740_993n);
    expect(() => again.commit("g1", "t", 0, -1n)).toThrow(SluiceError);
    expect(() => again.commit("", "t", 0, 1n)).toThrow(SluiceError);
  });
});

describe("EmbeddedLog retention", () => {
  it("deletes messages older than maxAgeMs from the front, keeping offsets", async () => {
    const log = await openLog({ partitions: 2, retention: { maxAgeMs: 1000, maxBytes: undefined } });
    await log.append(
      "t",
      Array.from({ length: 30 }, (_, i) => msg(`k${i % 6}`, `old${i}`)),
    );
    await sleep(25);
    const mid = Date.now();
    await sleep(25);
    await log.append(
      "t",
      Array.from({ length: 30 }, (_, i) => msg(`k${i % 6}`, `new${i}`)),
    );
    const ends = [log.endOffset("t", 0), log.endOffset("t", 1)];

    expect(log.applyRetention(mid - 1 + 1000 - 100).deletedMessages).toBe(0);
    expect(log.applyRetention(mid + 1000).deletedMessages).toBe(30);
    for (let p = 0; p < 2; p++) {
      const left = readAll(log, "t", p);
      expect(left.every((m) => dec.decode(m.value).startsWith("new"))).toBe(true);
      expect(log.endOffset("t", p)).toBe(ends[p]);
      expect(log.startOffset("t", p)).toBe((ends[p] as bigint) - BigInt(left.length));
      expectDense(left, log.startOffset("t", p));
      // Reading from 0 starts at the first retained offset.
      expect(log.read("t", p, 0n, 1)[0]?.offset).toBe(log.startOffset("t", p));
    }

    // Everything expired: partitions empty, start == end, offsets not reused.
    expect(log.applyRetention(Date.now() + 10_000).deletedMessages).toBe(30);
    for (let p = 0; p < 2; p++) {
      expect(log.startOffset("t", p)).toBe(ends[p]);
      expect(log.endOffset("t", p)).toBe(ends[p]);
    }
    await log.append("t", [msg("k0", "again"), msg("k1", "again")]);
    for (let p = 0; p < 2; p++) {
      const left = readAll(log, "t", p);
      for (const m of left) expect(m.offset).toBeGreaterThanOrEqual(ends[p] as bigint);
      expectDense(left, ends[p] as bigint);
    }
  });

  it("deletes the oldest messages until the topic's value bytes fit maxBytes", async () => {
    const value = "x".repeat(100);
    const log = await openLog({ partitions: 1, retention: { maxAgeMs: undefined, maxBytes: 1050 } });
    for (let i = 0; i < 50; i++) await log.append("t", [msg("k", `${String(i).padStart(3, "0")}${value}`)]);
    // 103-byte values: 10 fit in 1050.
    expect(log.applyRetention().deletedMessages).toBe(40);
    const left = readAll(log, "t", 0);
    expect(left).toHaveLength(10);
    expect(dec.decode(left[0]?.value).slice(0, 3)).toBe("040");
    expect(log.startOffset("t", 0)).toBe(40n);
    expect(log.endOffset("t", 0)).toBe(50n);
    expect(log.applyRetention().deletedMessages).toBe(0);
    await log.append("t", [msg("k", `050${value}`)]);
    expect(log.applyRetention().deletedMessages).toBe(1);
    expect(log.startOffset("t", 0)).toBe(41n);
    expect(log.endOffset("t", 0)).toBe(51n);
  });

  it("applies maxBytes across partitions, oldest append time first", async () => {
    const log = await openLog({ partitions: 4, retention: { maxAgeMs: undefined, maxBytes: 2000 } });
    const keys = Array.from({ length: 16 }, (_, i) => `key-${i}`);
    for (let round = 0; round < 5; round++) {
      await log.append(
        "t",
        keys.map((k) => msg(k, `${round}`.padEnd(50, "."))),
      );
      await sleep(5);
    }
    // 80 messages x 50 bytes = 4000; 40 fit.
    expect(log.applyRetention().deletedMessages).toBe(40);
    const left = readTopic(log, "t");
    expect(left).toHaveLength(40);
    // The two oldest rounds went entirely, the three newest stayed... minus
    // exactly the part of round 2 needed to fit.
    const byRound = new Map<string, number>();
    for (const m of left) {
      const r = dec.decode(m.value).slice(0, 1);
      byRound.set(r, (byRound.get(r) ?? 0) + 1);
    }
    expect(byRound.get("0")).toBeUndefined();
    expect(byRound.get("1")).toBeUndefined();
    expect(byRound.get("2")).toBe(8);
    expect(byRound.get("3")).toBe(16);
    expect(byRound.get("4")).toBe(16);
    for (let p = 0; p < 4; p++) {
      const msgs = readAll(log, "t", p);
      expectDense(msgs, log.startOffset("t", p));
      expect(log.endOffset("t", p) - log.startOffset("t", p)).toBe(BigInt(msgs.length));
    }
  });

  it("runs retention on its interval", async () => {
    const log = await openLog({
      partitions: 1,
      retention: { maxAgeMs: undefined, maxBytes: 10 },
      retentionCheckIntervalMs: 20,
    });
    await log.append("t", [msg("k", "0123456789"), msg("k", "0123456789"), msg("k", "0123456789")]);
    for (let i = 0; i < 100 && log.startOffset("t", 0) < 2n; i++) await sleep(10);
    expect(log.startOffset("t", 0)).toBe(2n);
  });
});

describe("EmbeddedLog with several writers on one file", () => {
  it("allocates dense, unique offsets when two instances append concurrently", async () => {
    const a = await openLog({ partitions: 3 });
    const b = await openLog({ partitions: 3 });
    const appends: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      const writer = i % 2 === 0 ? a : b;
      const name = i % 2 === 0 ? "a" : "b";
      appends.push(
        writer.append("t", [msg(`k${i % 10}`, `${name}${i}`), msg(`k${(i + 3) % 10}`, `${name}${i}+`)]),
      );
      if (i % 25 === 0) await sleep(0);
    }
    await Promise.all(appends);

    expect(b.partitionCount("t")).toBe(3);
    const seen = new Set<string>();
    let total = 0;
    for (let p = 0; p < 3; p++) {
      const all = readAll(a, "t", p);
      expectDense(all, 0n);
      expect(a.endOffset("t", p)).toBe(BigInt(all.length));
      expect(b.endOffset("t", p)).toBe(BigInt(all.length));
      for (const m of all) seen.add(dec.decode(m.value));
      total += all.length;
    }
    expect(total).toBe(600);
    expect(seen.size).toBe(600);
  });
});
