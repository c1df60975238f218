import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Admin, type Consumer, Kafka, logLevel, Partitioners, type Producer } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KafkaServer } from "./kafka.js";

// The first run downloads the broker jars, which can take a while on a cold cache.
const SETUP_TIMEOUT_MS = 180_000;
const TEST_TIMEOUT_MS = 120_000;

const TOPIC = "sluice-kafka-fixture";

interface Received {
  partition: number;
  offset: string;
  key: string | undefined;
  value: string | undefined;
}

function client(server: KafkaServer): Kafka {
  return new Kafka({
    clientId: "sluice-kafka-test",
    brokers: [server.bootstrap],
    logLevel: logLevel.NOTHING,
  });
}

async function produceOne(kafka: Kafka, key: string, value: string): Promise<string> {
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    const [meta] = await producer.send({ topic: TOPIC, acks: -1, messages: [{ key, value, partition: 0 }] });
    expect(meta?.errorCode).toBe(0);
    return meta?.baseOffset ?? "";
  } finally {
    await producer.disconnect();
  }
}

/** Reads partition 0 from the start with a fresh group until `count` records have arrived. */
async function consumeFromStart(kafka: Kafka, groupId: string, count: number): Promise<Received[]> {
  const consumer: Consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
  const got: Received[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${got.length}/${count} records arrived`)),
        60_000,
      );
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            if (partition !== 0) return;
            got.push({
              partition,
              offset: message.offset,
              key: message.key?.toString(),
              value: message.value?.toString(),
            });
            if (got.length >= count) {
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
  return got;
}

describe("KafkaServer", () => {
  let dataDir: string;
  let server: KafkaServer;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "sluice-kafka-"));
    server = new KafkaServer({ dataDir });
    await server.start();
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await server?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 60_000);

  it(
    "serves produce and consume, and keeps data across a restart",
    async () => {
      expect(server.bootstrap).toMatch(/^127\.0\.0\.1:\d+$/);
      const firstPid = server.pid;
      expect(firstPid).toBeTypeOf("number");

      const admin: Admin = client(server).admin();
      await admin.connect();
      try {
        await admin.createTopics({
          topics: [{ topic: TOPIC, numPartitions: 3, replicationFactor: 1 }],
          waitForLeaders: true,
        });
        const meta = await admin.fetchTopicMetadata({ topics: [TOPIC] });
        expect(meta.topics[0]?.partitions).toHaveLength(3);
      } finally {
        await admin.disconnect();
      }

      const first = await produceOne(client(server), "k1", "before-restart");
      expect(first).toBe("0");
      const before = await consumeFromStart(client(server), "group-before", 1);
      expect(before[0]).toEqual({ partition: 0, offset: "0", key: "k1", value: "before-restart" });

      const bootstrap = server.bootstrap;
      await server.restart();
      expect(server.bootstrap).toBe(bootstrap);
      expect(server.pid).toBeTypeOf("number");
      expect(server.pid).not.toBe(firstPid);

      const second = await produceOne(client(server), "k2", "after-restart");
      expect(second).toBe("1");
      const after = await consumeFromStart(client(server), "group-after", 2);
      expect(after).toEqual([
        { partition: 0, offset: "0", key: "k1", value: "before-restart" },
        { partition: 0, offset: "1", key: "k2", value: "after-restart" },
      ]);
    },
    TEST_TIMEOUT_MS,
  );
});
