/**
 * Kafka consumer groups (kafkajs) with manual commits: a batch's offsets
 * are committed only after the handler resolved, i.e. after every sink
 * wrote it. After a crash or a rebalance the group resumes from the last
 * commit, so a batch is replayed, never skipped.
 */
import { type Consumer, Kafka, logLevel } from "kafkajs";
import type { Logger } from "../core/logging/logger.js";
import { batchEnd } from "./batch-end.js";
import { type BatchHandler, HandlerAborted, type LogSource, type PartitionLag } from "./log-source.js";

export interface KafkaSourceOptions {
  brokers: string[];
  clientId: string;
  group: string;
  topics: string[];
  maxBatchMessages: number;
  /** A batch also ends before the message that would take its value bytes past this (one message always fits). */
  maxBatchBytes?: number;
  /** The broker waits up to this long for a fuller fetch. */
  lingerMs: number;
  sessionTimeoutMs?: number;
  logger: Logger;
}

export class KafkaLogSource implements LogSource {
  private readonly kafka: Kafka;
  private consumer: Consumer | undefined;
  private running = false;

  constructor(private readonly options: KafkaSourceOptions) {
    const log = options.logger;
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      logLevel: logLevel.ERROR,
      logCreator:
        () =>
        ({ log: entry }) => {
          const { message, ...rest } = entry;
          log.warn({ kafka: rest }, `kafka consumer: ${message}`);
        },
      retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 5000 },
    });
  }

  get group(): string {
    return this.options.group;
  }

  async start(handler: BatchHandler): Promise<void> {
    this.running = true;
    await this.launch(handler);
  }

  /**
   * Creates and runs a consumer. kafkajs gives up on some errors (a commit
   * refused because the group moved on without this member, for one); the
   * crash handler then starts a fresh consumer, which rejoins the group and
   * resumes from the last commit, so a sink that was down for longer than a
   * session never leaves its partitions unread.
   */
  private async launch(handler: BatchHandler): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: this.options.group,
      // A short session lets the group hand a crashed member's partitions to the survivors quickly.
      sessionTimeout: this.options.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: 3000,
      maxWaitTimeInMs: Math.max(10, this.options.lingerMs),
      allowAutoTopicCreation: false,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 10_000 },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!this.running || this.consumer !== consumer || payload.restart) return;
      this.options.logger.warn(
        { err: payload.error?.message, group: this.group },
        "consumer stopped; starting a new one",
      );
      this.consumer = undefined;
      void consumer.disconnect().catch(() => {});
      this.relaunch(handler, 1000);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.options.topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
        const { topic, partition } = batch;
        const control = { isActive: () => this.running && isRunning() && !isStale(), heartbeat };
        const all = batch.messages;
        for (let i = 0; i < all.length && control.isActive(); ) {
          const end = batchEnd(all, i, this.options.maxBatchMessages, this.options.maxBatchBytes);
          const chunk = all.slice(i, end);
          i = end;
          try {
            await handler(
              {
                topic,
                partition,
                messages: chunk.map((m) => ({
                  topic,
                  partition,
                  offset: BigInt(m.offset),
                  key: m.key ?? Buffer.alloc(0),
                  value: m.value ?? Buffer.alloc(0),
                })),
              },
              control,
            );
          } catch (err) {
            if (err instanceof HandlerAborted) return;
            throw err;
          }
          const last = chunk[chunk.length - 1];
          if (!last) continue;
          resolveOffset(last.offset);
          await consumer.commitOffsets([{ topic, partition, offset: (BigInt(last.offset) + 1n).toString() }]);
          await heartbeat();
        }
      },
    });
  }

  /** Starts a new consumer after a delay, trying again with backoff until one runs or the source stops. */
  private relaunch(handler: BatchHandler, delayMs: number): void {
    const timer = setTimeout(() => {
      if (!this.running || this.consumer) return;
      this.launch(handler).catch((err) => {
        this.options.logger.error(
          { err: (err as Error).message, group: this.group },
          "consumer restart failed",
        );
        const failed = this.consumer;
        this.consumer = undefined;
        void failed?.disconnect().catch(() => {});
        this.relaunch(handler, Math.min(delayMs * 2, 30_000));
      });
    }, delayMs);
    timer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.consumer?.disconnect().catch(() => {});
    this.consumer = undefined;
  }

  async lag(): Promise<PartitionLag[]> {
    return kafkaGroupLag(this.kafka, this.group, this.options.topics);
  }
}

/** Lag of a consumer group over topics, from the broker's committed offsets and high watermarks. */
export async function kafkaGroupLag(kafka: Kafka, group: string, topics: string[]): Promise<PartitionLag[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const present = topics.filter((t) => existing.has(t));
    const out: PartitionLag[] = [];
    const committed = present.length ? await admin.fetchOffsets({ groupId: group, topics: present }) : [];
    for (const t of present) {
      const ends = await admin.fetchTopicOffsets(t);
      const groupOffsets = committed.find((c) => c.topic === t)?.partitions ?? [];
      for (const e of ends) {
        const c = groupOffsets.find((p) => p.partition === e.partition);
        const low = BigInt(e.low);
        const end = BigInt(e.high);
        const pos = c && BigInt(c.offset) >= 0n ? BigInt(c.offset) : low;
        out.push({
          group,
          topic: t,
          partition: e.partition,
          committed: pos,
          end,
          lag: end > pos ? end - pos : 0n,
        });
      }
    }
    return out;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
