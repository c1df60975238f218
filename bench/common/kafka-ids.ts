/**
 * Reads Kafka topics from the start to their high watermarks (as of the call)
 * and counts a run's record ids in every message with scanIds, streaming:
 * nothing is kept but the counts, so millions of records fit.
 */
import { Kafka, logLevel } from "kafkajs";
import { type IdCounts, scanIds } from "./audit.js";

export interface TopicScan {
  topic: string;
  messages: number;
  ids: number;
}

/** Messages per topic between the low and high watermarks. */
export async function topicSizes(bootstrap: string, topics: string[]): Promise<Map<string, number>> {
  const kafka = new Kafka({
    brokers: [bootstrap],
    clientId: "sluice-bench-audit",
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const out = new Map<string, number>();
    for (const topic of topics) {
      if (!existing.has(topic)) {
        out.set(topic, 0);
        continue;
      }
      const offsets = await admin.fetchTopicOffsets(topic);
      out.set(
        topic,
        offsets.reduce((n, o) => n + Number(BigInt(o.high) - BigInt(o.low)), 0),
      );
    }
    return out;
  } finally {
    await admin.disconnect();
  }
}

export async function scanKafkaIds(
  bootstrap: string,
  topics: string[],
  run: string,
  into: IdCounts,
  timeoutMs: number,
): Promise<TopicScan[]> {
  const kafka = new Kafka({
    brokers: [bootstrap],
    clientId: "sluice-bench-audit",
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const remaining = new Map<string, bigint>();
  const results = new Map<string, TopicScan>();
  try {
    const existing = new Set(await admin.listTopics());
    for (const topic of topics) {
      results.set(topic, { topic, messages: 0, ids: 0 });
      if (!existing.has(topic)) continue;
      for (const o of await admin.fetchTopicOffsets(topic)) {
        if (BigInt(o.high) > BigInt(o.low)) remaining.set(`${topic}/${o.partition}`, BigInt(o.high));
      }
    }
  } finally {
    await admin.disconnect();
  }
  if (remaining.size === 0) return [...results.values()];

  const consumer = kafka.consumer({
    groupId: `sluice-bench-audit-${process.pid}-${Date.now()}`,
    maxBytesPerPartition: 8 * 1024 * 1024,
    maxBytes: 64 * 1024 * 1024,
  });
  await consumer.connect();
  try {
    for (const topic of topics) {
      if ([...remaining.keys()].some((k) => k.startsWith(`${topic}/`))) {
        await consumer.subscribe({ topic, fromBeginning: true });
      }
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`reading ${topics.join(", ")} took over ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const key = `${batch.topic}/${batch.partition}`;
            const high = remaining.get(key);
            const r = results.get(batch.topic);
            if (high === undefined || !r) return;
            for (const m of batch.messages) {
              if (BigInt(m.offset) >= high) break;
              r.messages++;
              if (m.value) r.ids += scanIds(m.value, run, into);
              if (BigInt(m.offset) + 1n >= high) {
                remaining.delete(key);
                break;
              }
            }
            if (remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return [...results.values()];
}
