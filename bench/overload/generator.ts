/**
 * The overload run's load: several OTLP clients (one channel or connection
 * pool each, one service.name each) sending records with unique ids, in two
 * shapes:
 *
 * - closed loop (calibration): a fixed number of lanes, each with one
 *   request outstanding, as fast as the gateway answers;
 * - open loop (overload): requests issued on a fixed schedule whatever the
 *   answers, each client holding at most `maxOutstanding` requests (in
 *   flight or waiting to retry); a request due while its client is full is
 *   dropped at the client, as an SDK drops from a full export queue.
 *
 * Each client has at most `connections` attempts in flight (HTTP sockets, or
 * gRPC streams on its one channel), as an exporter has a fixed number of
 * senders; a request's attempt waits for a free one.
 *
 * Every request is retried as the OTLP specification asks (bench/common/otlp-client.ts)
 * within a budget; its records count as acknowledged only on success. A
 * request's body is rebuilt from a template for each attempt, so a request
 * waiting to retry holds no body.
 */
import { GrowableLedger } from "../common/audit.js";
import {
  type Answer,
  exportWithRetry,
  grpcTransport,
  httpTransport,
  type Protocol,
  type RetryPolicy,
  sleep,
  type Transport,
} from "../common/otlp-client.js";
import { RequestTemplate } from "../common/records.js";

/** What a non-success answer means for the overload checks. */
export type AnswerClass = "ok" | "retryable refusal" | "failure";

/**
 * The gateway's deliberate, retryable refusals: HTTP 429 / 503 with
 * Retry-After, gRPC RESOURCE_EXHAUSTED / UNAVAILABLE with RetryInfo. Anything
 * else (another status, a refusal without its hint, a reset connection, no
 * answer in time) is a failure.
 */
export function classify(a: Answer): AnswerClass {
  if (a.ok) return "ok";
  const hinted = a.retryAfterMs !== undefined;
  if ((a.status === "429" || a.status === "503") && hinted) return "retryable refusal";
  if ((a.status === "grpc RESOURCE_EXHAUSTED" || a.status === "grpc UNAVAILABLE") && hinted) {
    return "retryable refusal";
  }
  return "failure";
}

/** A stable label for counting answers: the status, and whether the retry hint came with it. */
export function answerLabel(a: Answer, protocol: Protocol): string {
  if (a.ok) return protocol === "grpc" ? "grpc OK" : a.status;
  if (a.status === "connection error" || a.status === "timeout") {
    return a.detail && a.status === "connection error" ? `${a.status} ${a.detail}` : a.status;
  }
  const hint = protocol === "grpc" ? "RetryInfo" : "Retry-After";
  return `${a.status} ${a.retryAfterMs !== undefined ? "with" : "without"} ${hint}`;
}

export interface PhaseStats {
  name: string;
  /** Requests the schedule called for (open loop) or lanes started (closed loop). */
  offeredRequests: number;
  issuedRequests: number;
  droppedAtClient: number;
  attempts: number;
  /** Answers by label, and by class. */
  answers: Record<string, number>;
  answerClasses: Record<AnswerClass, number>;
  /** A few failure details, for the report. */
  failureSamples: string[];
  ackedRequests: number;
  ackedRecords: number;
  /** Records acknowledged inside the measured window. */
  windowAckedRecords: number;
  windowSeconds: number;
  rejectedRequests: number;
  abandonedRequests: number;
  resentRequests: number;
  maxAttempts: number;
  /** Most requests outstanding at once, over all clients. */
  peakOutstanding: number;
  /** Time from issue to acknowledgement, retries included (ms). */
  ackLatencyMs: { p50: number; p99: number; max: number };
  /** From the phase's start to the last request settling (s). */
  settledSeconds: number;
}

function newStats(name: string): PhaseStats {
  return {
    name,
    offeredRequests: 0,
    issuedRequests: 0,
    droppedAtClient: 0,
    attempts: 0,
    answers: {},
    answerClasses: { ok: 0, "retryable refusal": 0, failure: 0 },
    failureSamples: [],
    ackedRequests: 0,
    ackedRecords: 0,
    windowAckedRecords: 0,
    windowSeconds: 0,
    rejectedRequests: 0,
    abandonedRequests: 0,
    resentRequests: 0,
    maxAttempts: 0,
    peakOutstanding: 0,
    ackLatencyMs: { p50: Number.NaN, p99: Number.NaN, max: Number.NaN },
    settledSeconds: 0,
  };
}

interface Client {
  transport: Transport;
  template: RequestTemplate;
  outstanding: number;
  inFlight: number;
  waiting: (() => void)[];
}

export interface GeneratorOptions {
  run: string;
  protocol: Protocol;
  /** http://127.0.0.1:port for HTTP, 127.0.0.1:port for gRPC. */
  endpoint: string;
  clients: number;
  /** Attempts in flight per client. */
  connections: number;
  /** Requests per client, in flight or waiting to retry. */
  maxOutstanding: number;
  records: number;
  recordSize: number;
  policy: RetryPolicy;
  requestTimeoutMs: number;
  log: (line: string) => void;
}

export class Generator {
  readonly ledger = new GrowableLedger();
  private readonly clients: Client[];
  private outstanding = 0;
  /** Set by stop() (for good) or by a phase's settle deadline (until the next phase). */
  private stopping = false;
  private closed = false;

  constructor(private readonly opts: GeneratorOptions) {
    this.clients = Array.from({ length: opts.clients }, (_, c) => ({
      transport:
        opts.protocol === "grpc"
          ? grpcTransport({ address: opts.endpoint, timeoutMs: opts.requestTimeoutMs })
          : httpTransport({
              endpoint: opts.endpoint,
              json: opts.protocol === "http/json",
              maxSockets: opts.connections,
              timeoutMs: opts.requestTimeoutMs,
            }),
      template: new RequestTemplate({
        run: opts.run,
        service: `overload-svc-${c}`,
        records: opts.records,
        recordSize: opts.recordSize,
        encoding: opts.protocol === "http/json" ? "json" : "protobuf",
      }),
      outstanding: 0,
      inFlight: 0,
      waiting: [],
    }));
  }

  /** One attempt on one of the client's connections: the body is built only once a connection is free. */
  private async attempt(client: Client, first: number): Promise<Answer> {
    if (client.inFlight >= this.opts.connections) {
      await new Promise<void>((resolve) => client.waiting.push(resolve));
    } else {
      client.inFlight++;
    }
    try {
      return await client.transport.send(client.template.build(first));
    } finally {
      const next = client.waiting.shift();
      // The slot passes straight to the next waiter, so inFlight stays counted.
      if (next) next();
      else client.inFlight--;
    }
  }

  /** Bytes of one request (every request of a run has the same size). */
  get requestBytes(): number {
    return this.clients[0]?.template.bytes.length ?? 0;
  }

  /** No new request or attempt starts after this; requests waiting to retry give up. */
  stop(): void {
    this.closed = true;
    this.stopping = true;
  }

  private beginPhase(): void {
    this.stopping = this.closed;
  }

  close(): void {
    for (const c of this.clients) c.transport.close();
  }

  /** One request through its retries; resolves when it settles. */
  private async request(client: Client, stats: PhaseStats, windowEnd: () => number, latencies: number[]) {
    const { records } = this.opts;
    const first = this.ledger.take(records);
    const issuedAt = performance.now();
    stats.issuedRequests++;
    client.outstanding++;
    this.outstanding++;
    stats.peakOutstanding = Math.max(stats.peakOutstanding, this.outstanding);
    try {
      const { outcome, attempts } = await exportWithRetry(
        () => this.attempt(client, first),
        this.opts.policy,
        {
          onAnswer: (a) => {
            stats.attempts++;
            const label = answerLabel(a, this.opts.protocol);
            stats.answers[label] = (stats.answers[label] ?? 0) + 1;
            const cls = classify(a);
            stats.answerClasses[cls]++;
            if (cls === "failure" && stats.failureSamples.length < 10) {
              stats.failureSamples.push(
                a.detail && !label.includes(a.detail) ? `${label}: ${a.detail}` : label,
              );
            }
          },
          onResend: () => {
            stats.resentRequests++;
            this.ledger.markResent(first, records);
          },
          stopped: () => this.stopping,
        },
      );
      stats.maxAttempts = Math.max(stats.maxAttempts, attempts);
      if (outcome === "acked") {
        this.ledger.markAcked(first, records);
        stats.ackedRequests++;
        stats.ackedRecords += records;
        const now = performance.now();
        if (now <= windowEnd()) stats.windowAckedRecords += records;
        latencies.push(now - issuedAt);
      } else if (outcome === "rejected") {
        stats.rejectedRequests++;
      } else {
        stats.abandonedRequests++;
      }
    } finally {
      client.outstanding--;
      this.outstanding--;
    }
  }

  /**
   * Waits for every request to settle, or until the deadline (performance.now()
   * time), then stops retries and waits for the last answers.
   */
  private async settle(pending: Set<Promise<void>>, deadline: number): Promise<void> {
    while (pending.size > 0 && performance.now() < deadline) await sleep(100);
    if (pending.size > 0) {
      this.opts.log(`${pending.size} requests still unsettled at the deadline; stopping their retries`);
      this.stopping = true;
      await Promise.race([Promise.all(pending), sleep(this.opts.requestTimeoutMs + 5_000)]);
    }
  }

  /**
   * `lanes` requests always outstanding for warmupMs + measureMs; the rate
   * is the records acknowledged in the measured part over its length.
   */
  async closedLoop(name: string, lanes: number, warmupMs: number, measureMs: number): Promise<PhaseStats> {
    this.beginPhase();
    const stats = newStats(name);
    const latencies: number[] = [];
    const started = performance.now();
    const windowStart = started + warmupMs;
    const end = windowStart + measureMs;
    let windowAckedAtStart = 0;
    const pending = new Set<Promise<void>>();
    const lane = async (i: number) => {
      const client = this.clients[i % this.clients.length] as Client;
      while (performance.now() < end && !this.stopping) {
        stats.offeredRequests++;
        await this.request(client, stats, () => end, latencies);
      }
    };
    const warm = setTimeout(() => {
      windowAckedAtStart = stats.windowAckedRecords;
    }, warmupMs);
    for (let i = 0; i < lanes; i++) {
      const p = lane(i);
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
    await this.settle(pending, end + this.opts.policy.giveUpAfterMs + this.opts.requestTimeoutMs + 5_000);
    clearTimeout(warm);
    stats.windowAckedRecords -= windowAckedAtStart;
    stats.windowSeconds = measureMs / 1000;
    stats.settledSeconds = (performance.now() - started) / 1000;
    stats.ackLatencyMs = percentiles(latencies);
    return stats;
  }

  /**
   * Open loop: `requestsPerSecond` requests offered for durationMs, round
   * robin over the clients, whatever the answers.
   */
  async openLoop(name: string, requestsPerSecond: number, durationMs: number): Promise<PhaseStats> {
    this.beginPhase();
    const stats = newStats(name);
    const latencies: number[] = [];
    const started = performance.now();
    const end = started + durationMs;
    const pending = new Set<Promise<void>>();
    let next = 0;
    while (!this.stopping) {
      const now = performance.now();
      const elapsed = Math.min(now, end) - started;
      const due = Math.floor((elapsed / 1000) * requestsPerSecond);
      while (stats.offeredRequests < due) {
        stats.offeredRequests++;
        const client = this.clients[next++ % this.clients.length] as Client;
        if (client.outstanding >= this.opts.maxOutstanding) {
          stats.droppedAtClient++;
          continue;
        }
        const p = this.request(client, stats, () => end, latencies);
        pending.add(p);
        void p.finally(() => pending.delete(p));
      }
      if (now >= end) break;
      await sleep(Math.min(5, Math.max(0, end - now)));
    }
    await this.settle(pending, end + this.opts.policy.giveUpAfterMs + this.opts.requestTimeoutMs + 5_000);
    stats.windowSeconds = durationMs / 1000;
    stats.settledSeconds = (performance.now() - started) / 1000;
    stats.ackLatencyMs = percentiles(latencies);
    return stats;
  }
}

function percentiles(values: number[]): { p50: number; p99: number; max: number } {
  if (values.length === 0) return { p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const sorted = Float64Array.from(values).sort();
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
  return { p50: at(50), p99: at(99), max: sorted[sorted.length - 1] as number };
}
