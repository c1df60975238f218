/**
 * Collects appends from concurrent requests and hands them to a writer one
 * batch at a time. While a batch is being made durable the next one grows,
 * so under load each fsync or Kafka round trip covers many requests.
 */
import type { LogMessage } from "./log.js";

export interface PendingAppend {
  topic: string;
  messages: readonly LogMessage[];
  bytes: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class GroupCommitQueue {
  private queue: PendingAppend[] = [];
  private running = false;
  private scheduled = false;

  constructor(
    /** Makes one batch durable; resolves when it is, rejects to fail every append in it. */
    private readonly writeBatch: (batch: PendingAppend[]) => Promise<void>,
    private readonly maxBatchBytes: number,
  ) {}

  get pending(): number {
    return this.queue.length;
  }

  enqueue(topic: string, messages: readonly LogMessage[]): Promise<void> {
    let bytes = 0;
    for (const m of messages) bytes += m.value.length + m.key.length;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ topic, messages, bytes, resolve, reject });
      this.schedule();
    });
  }

  /** Fails every append still waiting, e.g. when the backend goes down. */
  failPending(err: unknown): void {
    const waiting = this.queue;
    this.queue = [];
    for (const p of waiting) p.reject(err);
  }

  /** Resolves once nothing is queued or being written. */
  async drain(): Promise<void> {
    while (this.running || this.queue.length) await new Promise((r) => setTimeout(r, 5));
  }

  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    // setImmediate lets every request that arrived in this turn join the batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length) {
        const batch = this.takeBatch();
        try {
          await this.writeBatch(batch);
          for (const p of batch) p.resolve();
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private takeBatch(): PendingAppend[] {
    let bytes = 0;
    let n = 0;
    // Always take at least one append, even one larger than the cap.
    while (
      n < this.queue.length &&
      (n === 0 || bytes + (this.queue[n] as PendingAppend).bytes <= this.maxBatchBytes)
    ) {
      bytes += (this.queue[n] as PendingAppend).bytes;
      n++;
    }
    return this.queue.splice(0, n);
  }
}
