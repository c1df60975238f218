/**
 * The load client: concurrent OTLP/HTTP protobuf exporters that retry the
 * way the OTLP specification asks (429, 502, 503, 504 and connection errors,
 * exponential backoff, Retry-After honoured; 400 is never retried). A record
 * counts as acknowledged only when the request carrying it got a 200.
 */
import { buildRequest } from "./records.js";

const RETRYABLE = new Set([429, 502, 503, 504]);
const INITIAL_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5_000;
const REQUEST_TIMEOUT_MS = 15_000;

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

  constructor(private readonly opts: LoadOptions) {
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
      const body = buildRequest(this.opts.run, `faults-${w}`, first, this.opts.batchSize);
      const acked = await this.export(body, first);
      if (acked) this.stats.acked.fill(1, first, first + this.opts.batchSize);
    }
  }

  private async export(body: Uint8Array, first: number): Promise<boolean> {
    this.stats.requests++;
    const giveUpAt = Date.now() + this.opts.giveUpAfterMs;
    let backoff = INITIAL_BACKOFF_MS;
    for (let attempt = 1; ; attempt++) {
      this.stats.attempts++;
      this.stats.maxAttempts = Math.max(this.stats.maxAttempts, attempt);
      if (attempt === 2) this.stats.resent.fill(1, first, first + this.opts.batchSize);
      let status: number | undefined;
      let retryAfterMs: number | undefined;
      try {
        const res = await fetch(`${this.opts.endpoint}/v1/logs`, {
          method: "POST",
          body,
          headers: { "content-type": "application/x-protobuf" },
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        status = res.status;
        retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
        // Drain so the connection can be reused.
        await res.arrayBuffer().catch(() => undefined);
      } catch {
        status = undefined;
      }
      this.count(status === undefined ? "connection error" : String(status));
      if (status === 200) return true;
      if (status !== undefined && !RETRYABLE.has(status)) {
        // 400 and anything else the specification does not call retryable: the data is dropped.
        this.stats.rejected += this.opts.batchSize;
        return false;
      }
      const jittered = backoff / 2 + Math.random() * (backoff / 2);
      const wait = Math.max(jittered, retryAfterMs ?? 0);
      if (Date.now() + wait > giveUpAt) {
        this.stats.abandoned += this.opts.batchSize;
        return false;
      }
      await sleep(wait);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }
}

/** Retry-After is either delay-seconds or an HTTP date. */
function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
