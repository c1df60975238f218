/**
 * Consumer groups over the embedded log: one loop per partition reads from
 * the group's committed offset, hands a batch to the handler and commits
 * after it. A single process owns an embedded group (the embedded log is the
 * one-machine mode); partitions are still processed concurrently and each in
 * order.
 */
import type { EmbeddedLog } from "../log/embedded/embedded-log.js";
import type { StoredMessage } from "../log/log.js";
import { batchEnd } from "./batch-end.js";
import { type BatchHandler, HandlerAborted, type LogSource, type PartitionLag } from "./log-source.js";

export interface EmbeddedSourceOptions {
  group: string;
  topics: string[];
  maxBatchMessages: number;
  /** A batch also ends before the message that would take its value bytes past this (one message always fits). */
  maxBatchBytes?: number;
  /** How long to wait for a fuller batch when fewer than maxBatchMessages are waiting. */
  lingerMs: number;
  /** Idle poll interval. */
  pollMs?: number;
  /** Called when a handler fails unexpectedly (the batch is retried). */
  onError?: (err: unknown) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class EmbeddedLogSource implements LogSource {
  private running = false;
  private loops: Promise<void>[] = [];
  private discovery: NodeJS.Timeout | undefined;
  private readonly started = new Set<string>();

  constructor(
    private readonly log: EmbeddedLog,
    private readonly options: EmbeddedSourceOptions,
  ) {}

  get group(): string {
    return this.options.group;
  }

  async start(handler: BatchHandler): Promise<void> {
    this.running = true;
    const discover = () => {
      for (const topic of this.options.topics) {
        for (let p = 0; p < this.log.partitionCount(topic); p++) {
          const id = `${topic}/${p}`;
          if (this.started.has(id)) continue;
          this.started.add(id);
          this.loops.push(this.partitionLoop(topic, p, handler));
        }
      }
    };
    discover();
    // Topics appear on first append; look for new ones while running.
    this.discovery = setInterval(discover, 1000);
    this.discovery.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.discovery);
    await Promise.all(this.loops);
    this.loops = [];
    this.started.clear();
  }

  async lag(): Promise<PartitionLag[]> {
    const out: PartitionLag[] = [];
    for (const topic of this.options.topics) {
      for (let p = 0; p < this.log.partitionCount(topic); p++) out.push(this.partitionLag(topic, p));
    }
    return out;
  }

  private partitionLag(topic: string, partition: number): PartitionLag {
    const end = this.log.endOffset(topic, partition);
    const committed = this.position(topic, partition);
    return {
      group: this.group,
      topic,
      partition,
      committed,
      end,
      lag: end > committed ? end - committed : 0n,
    };
  }

  private position(topic: string, partition: number): bigint {
    const committed = this.log.committed(this.group, topic, partition);
    const start = this.log.startOffset(topic, partition);
    // Retention may have deleted past the committed position; resume at the oldest record kept.
    return committed === undefined || committed < start ? start : committed;
  }

  private async partitionLoop(topic: string, partition: number, handler: BatchHandler): Promise<void> {
    const { maxBatchMessages, lingerMs } = this.options;
    const pollMs = this.options.pollMs ?? 100;
    const control = { isActive: () => this.running, heartbeat: async () => {} };
    while (this.running) {
      const from = this.position(topic, partition);
      let messages = this.log.read(topic, partition, from, maxBatchMessages, this.options.maxBatchBytes);
      if (messages.length === 0) {
        await sleep(pollMs);
        continue;
      }
      if (messages.length < maxBatchMessages && lingerMs > 0) {
        await sleep(lingerMs);
        if (!this.running) break;
        // Re-read from the same offset: the batch only grows, which keeps replays supersets.
        messages = this.log.read(topic, partition, from, maxBatchMessages, this.options.maxBatchBytes);
      }
      // Same cut as the Kafka source: by count, and by bytes so 100-record envelopes stay bounded.
      messages = messages.slice(0, batchEnd(messages, 0, maxBatchMessages, this.options.maxBatchBytes));
      const batch = {
        topic,
        partition,
        messages: messages.map((m: StoredMessage) => ({
          topic,
          partition,
          offset: m.offset,
          key: m.key,
          value: m.value,
        })),
      };
      try {
        await handler(batch, control);
      } catch (err) {
        if (err instanceof HandlerAborted) break;
        this.options.onError?.(err);
        await sleep(1000);
        continue;
      }
      const last = messages[messages.length - 1] as StoredMessage;
      this.log.commit(this.group, topic, partition, last.offset + 1n);
    }
  }
}
