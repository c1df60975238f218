/**
 * The one ingest path every receiver shares: admit (backpressure), walk and
 * split the OTLP request, wrap each group in an envelope, append durably,
 * and only then report success. Receivers translate the outcome, or the
 * SluiceError thrown, into their protocol's answer.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { ErrorCode, SluiceError } from "../../core/errors.js";
import type { Metrics } from "../../core/metrics.js";
import type { LogMessage, LogWriter } from "../../log/log.js";
import { DeadLetterSchema } from "../../proto/gen/sluice/log/v1/envelope_pb.js";
import {
  encodeEnvelope,
  encodeEnvelopeHeader,
  type SourceProtocol,
  withReceiveTime,
} from "./envelope-writer.js";
import type { InflightLimiter } from "./inflight-limiter.js";
import { type KeyRule, OtlpLogsSplitter, type RejectedGroup } from "./otlp-logs-splitter.js";
import { WireError } from "./wire.js";

export interface Topics {
  logs: string;
  events: string;
  deadLetter: string;
}

export interface IngestOptions {
  topics: Topics;
  key: KeyRule;
  /** How long an append may take before the client is told to retry. */
  appendTimeoutMs: number;
  /** What Retry-After / RetryInfo tell a refused client. */
  retryAfterMs: number;
  /** Label for append-latency metrics: "kafka" or "embedded". */
  backend: string;
  /** Largest envelope the log accepts as one message (Kafka's message limit); none for the embedded log. */
  maxEnvelopeBytes?: number;
}

export interface IngestContext {
  receiver: string;
  sourceProtocol: SourceProtocol;
  tenant: string;
}

export interface IngestOutcome {
  acceptedRecords: number;
  rejectedRecords: number;
  /** Why records were rejected; empty when none were. */
  errorMessage: string;
}

const nowUnixNano = (): bigint => BigInt(Date.now()) * 1_000_000n;

export class IngestService {
  private readonly splitter: OtlpLogsSplitter;
  // Envelope headers by tenant, receiver and protocol, encoded once; each request only sets its time.
  private readonly headers = new Map<string, Uint8Array>();
  private closing = false;

  constructor(
    private readonly log: LogWriter,
    private readonly limiter: InflightLimiter,
    private readonly metrics: Metrics,
    private readonly options: IngestOptions,
  ) {
    this.splitter = new OtlpLogsSplitter(options.key);
  }

  /** Refuses work before the body is read, when it can already tell the answer. */
  admit(receiver: string, expectedBytes: number): void {
    if (this.closing) {
      throw new SluiceError(ErrorCode.SHUTTING_DOWN, "gateway is shutting down", {
        retryable: true,
        retryAfterMs: this.options.retryAfterMs,
      });
    }
    if (!this.log.isHealthy()) {
      this.metrics.refusedRequests.inc({ receiver, reason: "log_unavailable" });
      throw new SluiceError(ErrorCode.LOG_UNAVAILABLE, "the log is unavailable; retry later", {
        retryable: true,
        retryAfterMs: this.options.retryAfterMs,
      });
    }
    if (this.limiter.wouldExceed(expectedBytes)) {
      this.metrics.refusedRequests.inc({ receiver, reason: "overloaded" });
      throw this.overloaded();
    }
  }

  /** Makes the records of one encoded ExportLogsServiceRequest durable. */
  async ingest(request: Uint8Array, ctx: IngestContext): Promise<IngestOutcome> {
    this.admit(ctx.receiver, request.length);
    if (!this.limiter.tryAcquire(request.length)) {
      this.metrics.refusedRequests.inc({ receiver: ctx.receiver, reason: "overloaded" });
      throw this.overloaded();
    }
    let released = false;
    let handedToLog = false;
    const release = () => {
      if (!released) {
        released = true;
        this.limiter.release(request.length);
      }
    };
    try {
      const split = this.splitRequest(request, ctx.receiver);
      const header = withReceiveTime(this.headerFor(ctx), nowUnixNano());
      const logs: LogMessage[] = [];
      const events: LogMessage[] = [];
      const limit = this.options.maxEnvelopeBytes;
      for (const group of split.groups) {
        if (limit !== undefined && group.byteLength + header.length + 6 > limit) {
          this.metrics.refusedRequests.inc({ receiver: ctx.receiver, reason: "payload_too_large" });
          throw new SluiceError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            `one ResourceLogs of ${group.byteLength} bytes exceeds the log's message limit of ${limit} bytes; send fewer records per resource`,
          );
        }
        (group.kind === "events" ? events : logs).push({
          key: group.key,
          value: encodeEnvelope(header, group),
        });
      }
      const deadLetters = split.rejected.map((g) => this.deadLetter(header, g, ctx.receiver));
      const total = split.acceptedRecords + split.rejectedRecords;
      if (total === 0) return { acceptedRecords: 0, rejectedRecords: 0, errorMessage: "" };

      const appends: Promise<void>[] = [];
      const { topics } = this.options;
      if (logs.length) appends.push(this.log.append(topics.logs, logs));
      if (events.length) appends.push(this.log.append(topics.events, events));
      if (deadLetters.length) appends.push(this.log.append(topics.deadLetter, deadLetters));

      // The bytes stay counted until the log settles, even after a timeout
      // answered the client: that is what keeps memory bounded when the log stalls.
      handedToLog = true;
      void Promise.allSettled(appends).then(release);
      const started = process.hrtime.bigint();
      try {
        await this.withTimeout(Promise.all(appends));
      } catch (err) {
        this.metrics.refusedRecords.inc({ receiver: ctx.receiver, reason: "log_unavailable" }, total);
        this.metrics.refusedRequests.inc({ receiver: ctx.receiver, reason: "log_unavailable" });
        throw err instanceof SluiceError && err.retryable
          ? err
          : new SluiceError(ErrorCode.LOG_UNAVAILABLE, `append failed: ${(err as Error).message}`, {
              retryable: true,
              retryAfterMs: this.options.retryAfterMs,
              cause: err,
            });
      }
      this.metrics.appendLatency.observe(
        { backend: this.options.backend },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
      this.metrics.acceptedRecords.inc({ receiver: ctx.receiver }, split.acceptedRecords);
      this.metrics.acceptedBytes.inc({ receiver: ctx.receiver }, request.length);
      if (split.rejectedRecords) {
        this.metrics.refusedRecords.inc(
          { receiver: ctx.receiver, reason: "invalid_record" },
          split.rejectedRecords,
        );
        for (const g of split.rejected) {
          this.metrics.deadLettered.inc({ stage: ctx.receiver, reason: g.reasonCode }, g.recordCount);
        }
      }
      return {
        acceptedRecords: split.acceptedRecords,
        rejectedRecords: split.rejectedRecords,
        errorMessage: rejectionMessage(split.rejected),
      };
    } catch (err) {
      if (!handedToLog) release();
      throw err;
    }
  }

  private headerFor(ctx: IngestContext): Uint8Array {
    const id = `${ctx.sourceProtocol}\u0000${ctx.receiver}\u0000${ctx.tenant}`;
    let header = this.headers.get(id);
    if (header === undefined) {
      header = encodeEnvelopeHeader({
        receiveTimeUnixNano: 0n,
        tenant: ctx.tenant,
        sourceProtocol: ctx.sourceProtocol,
        receiver: ctx.receiver,
      });
      this.headers.set(id, header);
    }
    return header;
  }

  /** Stops admitting new requests; in-flight ones finish. */
  close(): void {
    this.closing = true;
  }

  private splitRequest(request: Uint8Array, receiver: string) {
    try {
      return this.splitter.split(request);
    } catch (err) {
      if (err instanceof WireError) {
        this.metrics.refusedRequests.inc({ receiver, reason: "malformed" });
        throw new SluiceError(
          ErrorCode.MALFORMED_PAYLOAD,
          `cannot decode ExportLogsServiceRequest: ${err.message}`,
        );
      }
      throw err;
    }
  }

  private deadLetter(header: Uint8Array, group: RejectedGroup, receiver: string): LogMessage {
    const value = toBinary(
      DeadLetterSchema,
      create(DeadLetterSchema, {
        reasonCode: group.reasonCode,
        reason: group.reason,
        stage: receiver,
        timeUnixNano: nowUnixNano(),
        payload: encodeEnvelope(header, group),
      }),
    );
    return { key: group.key, value };
  }

  private overloaded(): SluiceError {
    return new SluiceError(ErrorCode.OVERLOADED, "gateway is at its in-flight limit; retry later", {
      retryable: true,
      retryAfterMs: this.options.retryAfterMs,
    });
  }

  private withTimeout(p: Promise<unknown>): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new SluiceError(
              ErrorCode.LOG_UNAVAILABLE,
              `the log did not confirm the append within ${this.options.appendTimeoutMs} ms`,
              { retryable: true, retryAfterMs: this.options.retryAfterMs },
            ),
          ),
        this.options.appendTimeoutMs,
      );
      p.then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }
}

function rejectionMessage(rejected: RejectedGroup[]): string {
  if (rejected.length === 0) return "";
  const reasons = new Map<string, number>();
  for (const g of rejected) reasons.set(g.reason, (reasons.get(g.reason) ?? 0) + g.recordCount);
  return [...reasons].map(([reason, n]) => `${n} log record(s) rejected: ${reason}`).join("; ");
}
