/** Reads envelopes back out of the log, to check what the gateway made durable. */
import { fromBinary } from "@bufbuild/protobuf";
import { Kafka, logLevel } from "kafkajs";
import { EmbeddedLog } from "../../log/embedded/embedded-log.js";
import type { StoredMessage } from "../../log/log.js";
import {
  type DeadLetter,
  DeadLetterSchema,
  type Envelope,
  EnvelopeSchema,
} from "../../proto/gen/sluice/log/v1/envelope_pb.js";

export interface ReadEnvelope {
  topic: string;
  partition: number;
  key: string;
  envelope: Envelope;
}

export function decodeEnvelope(
  m: Pick<StoredMessage, "topic" | "partition" | "key" | "value">,
): ReadEnvelope {
  return {
    topic: m.topic,
    partition: m.partition,
    key: Buffer.from(m.key).toString("utf8"),
    envelope: fromBinary(EnvelopeSchema, new Uint8Array(m.value)),
  };
}

export function decodeDeadLetter(value: Uint8Array): DeadLetter {
  return fromBinary(DeadLetterSchema, new Uint8Array(value));
}

/** Every message of the topic in the embedded log at path. */
export async function readEmbedded(path: string, topic: string): Promise<StoredMessage[]> {
  const log = new EmbeddedLog({
    path,
    partitions: 1,
    retention: { maxAgeMs: undefined, maxBytes: undefined },
  });
  await log.start();
  try {
    const out: StoredMessage[] = [];
    for (let p = 0; p < log.partitionCount(topic); p++) {
      let offset = log.startOffset(topic, p);
      for (;;) {
        const batch = log.read(topic, p, offset, 10_000);
        if (batch.length === 0) break;
        out.push(...batch);
        offset = (batch[batch.length - 1] as StoredMessage).offset + 1n;
      }
    }
    return out;
  } finally {
    await log.shutdown();
  }
}

/**
 * Every message of a Kafka topic, read from the start of each partition up to
 * its high watermark at the time of the call (bounded in time).
 */
export async function readKafka(
  bootstrap: string,
  topic: string,
  timeoutMs = 60_000,
): Promise<StoredMessage[]> {
  const kafka = new Kafka({
    brokers: [bootstrap],
    clientId: "sluice-test-reader",
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const existing = await admin.listTopics();
  if (!existing.includes(topic)) {
    await admin.disconnect();
    return [];
  }
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map<number, bigint>();
  for (const o of offsets) {
    const high = BigInt(o.high);
    if (high > BigInt(o.low)) remaining.set(o.partition, high);
  }
  if (remaining.size === 0) return [];

  const consumer = kafka.consumer({ groupId: `sluice-test-${process.pid}-${Date.now()}-${Math.random()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const out: StoredMessage[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out reading ${topic}: ${out.length} messages read`)),
        timeoutMs,
      );
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            out.push({
              topic,
              partition,
              offset: BigInt(message.offset),
              timestampMs: Number(message.timestamp),
              key: message.key ?? Buffer.alloc(0),
              value: message.value ?? Buffer.alloc(0),
            });
            const high = remaining.get(partition);
            if (high !== undefined && BigInt(message.offset) + 1n >= high) remaining.delete(partition);
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
  return out;
}
