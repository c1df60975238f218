/**
 * The gateway's own idempotent producer against a real broker: what it
 * writes reads back exactly once and in order per key through the
 * general-purpose client, across batch splits, pipelined requests, gzip and
 * a fresh producer id after a failure.
 */
import { Kafka, logLevel } from "kafkajs";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { IdempotentProducer } from "../../log/kafka/producer/idempotent-producer.js";
import type { LogMessage } from "../../log/log.js";
import { partitionFor } from "../../log/partitioner.js";
import { readKafka } from "../support/read-log.js";

const PARTITIONS = 4;
const run = `producer-${Date.now().toString(36)}`;

function message(key: string, seq: number, size: number): LogMessage {
  const value = Buffer.alloc(size, seq & 0xff);
  value.write(`${key}#${seq}#`, 0);
  return { key: Buffer.from(key), value };
}

function producer(
  bootstrap: string,
  extra: Partial<ConstructorParameters<typeof IdempotentProducer>[0]> = {},
) {
  return new IdempotentProducer({
    brokers: [bootstrap],
    clientId: "sluice-producer-test",
    connectionTimeoutMs: 5000,
    requestTimeoutMs: 10_000,
    maxBatchBytes: 64 * 1024,
    compression: "none",
    ...extra,
  });
}

/** "key#seq#" from each stored value, grouped by key in partition order. */
function sequencesByKey(stored: { key: Uint8Array; value: Uint8Array; partition: number }[]) {
  const byKey = new Map<string, { partitions: Set<number>; seqs: number[] }>();
  for (const m of stored) {
    const [key, seq] = Buffer.from(m.value).toString("latin1").split("#");
    let e = byKey.get(key as string);
    if (!e) {
      e = { partitions: new Set(), seqs: [] };
      byKey.set(key as string, e);
    }
    e.partitions.add(m.partition);
    e.seqs.push(Number(seq));
  }
  return byKey;
}

describe("idempotent producer", () => {
  const bootstrap = inject("kafkaBootstrap");
  const topics = { plain: `${run}-plain`, gzip: `${run}-gzip` };

  beforeAll(async () => {
    const admin = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: Object.values(topics).map((topic) => ({ topic, numPartitions: PARTITIONS })),
    });
    await admin.disconnect();
  });

  it("writes every message once, in order per key, across split batches and pipelined requests", async () => {
    const p = producer(bootstrap);
    await p.connect([topics.plain]);
    const keys = ["alpha", "beta", "gamma", "delta", "epsilon"];
    let seq = 0;
    // 3 sends; the "alpha" share of each is ~600 KiB, so it is cut into ~10 batches of 64 KiB,
    // more than the five requests one partition may have in flight.
    for (let send = 0; send < 3; send++) {
      const messages: LogMessage[] = [];
      for (let i = 0; i < 300; i++) {
        const key = keys[i % keys.length] as string;
        messages.push(message(key, seq++, key === "alpha" ? 10_000 : 300));
      }
      await p.send(new Map([[topics.plain, messages]]));
    }
    p.close();

    const stored = await readKafka(bootstrap, topics.plain);
    expect(stored).toHaveLength(900);
    const byKey = sequencesByKey(stored);
    for (const key of keys) {
      const e = byKey.get(key);
      expect(e?.partitions).toEqual(new Set([partitionFor(Buffer.from(key), PARTITIONS)]));
      const sorted = [...(e?.seqs ?? [])].sort((a, b) => a - b);
      expect(e?.seqs).toEqual(sorted);
      expect(new Set(e?.seqs).size).toBe(180);
    }
  });

  it("writes gzip-compressed batches that a standard consumer reads", async () => {
    const p = producer(bootstrap, { compression: "gzip" });
    await p.connect([topics.gzip]);
    const messages = Array.from({ length: 200 }, (_, i) => message(`k${i % 7}`, i, 2000));
    await p.send(new Map([[topics.gzip, messages]]));
    p.close();
    const stored = await readKafka(bootstrap, topics.gzip);
    expect(stored.map((m) => Buffer.from(m.value).toString("latin1").split("#")[1]).sort()).toEqual(
      messages.map((_, i) => String(i)).sort(),
    );
  });

  it("refuses to send before connecting, and sends again after a reconnect with a new producer id", async () => {
    const p = producer(bootstrap);
    await expect(p.send(new Map([[topics.plain, [message("late", 0, 10)]]]))).rejects.toMatchObject({
      retryable: true,
    });
    await p.connect([topics.plain]);
    await p.send(new Map([[topics.plain, [message("late", 1, 10)]]]));
    p.close();
    await p.connect([topics.plain]);
    await p.send(new Map([[topics.plain, [message("late", 2, 10)]]]));
    p.close();
    const late = (await readKafka(bootstrap, topics.plain)).filter((m) =>
      Buffer.from(m.value).toString("latin1").startsWith("late#"),
    );
    expect(late.map((m) => Buffer.from(m.value).toString("latin1").split("#")[1])).toEqual(["1", "2"]);
  });

  it("fails retryably when no broker answers", async () => {
    const p = producer("127.0.0.1:1", { connectionTimeoutMs: 1000 });
    await expect(p.connect([topics.plain])).rejects.toMatchObject({ retryable: true });
  });
});
