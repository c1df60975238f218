/**
 * The load client: concurrent OTLP/HTTP protobuf exporters that retry the
 * way the OTLP specification asks (429, 502, 503, 504 and connection errors,
 * exponential backoff, Retry-After honoured; 400 is never retried), through
 * the shared client in bench/common/otlp-client.ts. A record counts as
 * acknowledged only when the request carrying it got a 200.
 */
import {
  exportWithRetry,
  httpTransport,
  type RetryPolicy,
  sleep,
  type Transport,
} from "../common/otlp-client.js";
import { buildRequest } from "./records.js";

const INITIAL_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5_000;
const REQUEST_TIMEOUT_MS = 15_000;

export { sleep };

export interface LoadOptions {
  run: string;
  endpoint: string;
  workers: number;
  batchSize: number;
  /** Records per second while pacing is on; the stream must outlast the fault schedule. */
  rate: number;
  minRecords: number;
  /** A request still unacknowledged after this long is given up (its records stay unacknowledged). */
  giveUpAfterMs: number;
  /** Builds the request for `count` records from `first`; default: the fault suite's records (buildRequest). */
  build?: (worker: number, first: number, count: number) => Uint8Array;
}

export interface LoadStats {
  sent: number;
  acked: Uint8Array;
  /** Records whose request was sent more than once: the only ones a client can duplicate. */
  resent: Uint8Array;
  requests: number;
  attempts: number;
  byOutcome: Map<string, number>;
  rejected: number;
  abandoned: number;
  maxAttempts: number;
}

export class LoadClient {
  private nextSeq = 0;
  private stopWhenDone = false;
  private paced = true;
  private started = 0;
  private readonly capacity: number;
  readonly stats: LoadStats;
  private running: Promise<void>[] = [];
  private readonly transport: Transport;
  private readonly policy: RetryPolicy;

  constructor(private readonly opts: LoadOptions) {
    this.transport = httpTransport({
      endpoint: opts.endpoint,
      maxSockets: opts.workers,
      timeoutMs: REQUEST_TIMEOUT_MS,
    });
    this.policy = {
      initialBackoffMs: INITIAL_BACKOFF_MS,
      maxBackoffMs: MAX_BACKOFF_MS,
      giveUpAfterMs: opts.giveUpAfterMs,
    };
    // Room for the records sent while the fault schedule is still running.
    this.capacity = Math.max(opts.minRecords * 4, 1_000_000);
    this.stats = {
      sent: 0,
      acked: new Uint8Array(this.capacity),
      resent: new Uint8Array(this.capacity),
      requests: 0,
      attempts: 0,
      byOutcome: new Map(),
      rejected: 0,
      abandoned: 0,
      maxAttempts: 0,
    };
  }

  get ackedCount(): number {
    let n = 0;
    for (let i = 0; i < this.stats.sent; i++) n += this.stats.acked[i] ?? 0;
    return n;
  }

  start(): void {
    this.started = Date.now();
    this.running = Array.from({ length: this.opts.workers }, (_, w) => this.worker(w));
  }

  /** Stops once at least minRecords have been handed out, unpaced from here so the tail is quick. */
  async finish(): Promise<void> {
    this.stopWhenDone = true;
    this.paced = false;
    await Promise.all(this.running);
    this.transport.close();
  }

  private count(outcome: string): void {
    this.stats.byOutcome.set(outcome, (this.stats.byOutcome.get(outcome) ?? 0) + 1);
  }

  private async worker(w: number): Promise<void> {
    for (;;) {
      const first = this.nextSeq;
      if (first + this.opts.batchSize > this.capacity) return;
      if (this.stopWhenDone && first >= this.opts.minRecords) return;
      this.nextSeq += this.opts.batchSize;
      if (this.paced) {
        const due = this.started + (first / this.opts.rate) * 1000;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
      }
      this.stats.sent = Math.max(this.stats.sent, first + this.opts.batchSize);
      const body = this.opts.build
        ? this.opts.build(w, first, this.opts.batchSize)
        : buildRequest(this.opts.run, `faults-${w}`, first, this.opts.batchSize);
      const acked = await this.export(body, first);
      if (acked) this.stats.acked.fill(1, first, first + this.opts.batchSize);
    }
  }

  private async export(body: Uint8Array, first: number): Promise<boolean> {
    this.stats.requests++;
    const { outcome, attempts } = await exportWithRetry(() => this.transport.send(body), this.policy, {
      onAnswer: (answer) => {
        this.stats.attempts++;
        this.count(answer.status);
      },
      onResend: () => this.stats.resent.fill(1, first, first + this.opts.batchSize),
    });
    this.stats.maxAttempts = Math.max(this.stats.maxAttempts, attempts);
    // "rejected": 400 and anything else the specification does not call retryable; the data is dropped.
    if (outcome === "rejected") this.stats.rejected += this.opts.batchSize;
    if (outcome === "abandoned") this.stats.abandoned += this.opts.batchSize;
    return outcome === "acked";
  }
}
