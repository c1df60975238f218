/**
 * Delivers one pipeline's records to one exporter. Each (pipeline, exporter)
 * pair is its own consumer group, so a sink that is down only grows its own
 * lag while the other sinks keep going.
 *
 * Per batch: decode (undecodable messages → dead letter), run the
 * processors, keep the records routed to this exporter, write them (retrying
 * retryable failures with capped exponential backoff, for as long as it
 * takes), dead-letter the records the sink refused permanently, and only
 * then let the source commit.
 */
import { isSluiceError } from "../core/errors.js";
import { afterSinkWrite } from "../core/failpoints.js";
import type { Logger } from "../core/logging/logger.js";
import type { Metrics } from "../core/metrics.js";
import type { Exporter, Processor } from "../core/pipeline/component.js";
import { decodeEnvelopeRecords } from "../core/pipeline/decode-envelope.js";
import type { PipelineRecord, RecordKind } from "../core/pipeline/record.js";
import type { DeadLetterWriter } from "./dead-letter-writer.js";
import { type BatchControl, HandlerAborted, type LogSource, type PartitionBatch } from "./log-source.js";

/** Under the consumer session timeout (10 s by default), as the group protocol expects. */
const HEARTBEAT_DURING_WRITE_MS = 3000;

export interface RetryPolicy {
  initialIntervalMs: number;
  maxIntervalMs: number;
}

export interface SinkRunnerOptions {
  pipeline: string;
  exporter: Exporter;
  processors: Processor[];
  source: LogSource;
  deadLetters: DeadLetterWriter;
  /** Topic name → kind of records on it. */
  topicKinds: Map<string, RecordKind>;
  /** Whether this runner dead-letters undecodable messages (one runner per pipeline does, so each goes once). */
  reportsUndecodable: boolean;
  retry: RetryPolicy;
  metrics: Metrics;
  logger: Logger;
  /** How often a running sink write heartbeats the group; default 3 s. */
  heartbeatIntervalMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SinkRunner {
  private readonly stage: string;

  constructor(private readonly o: SinkRunnerOptions) {
    this.stage = `${o.pipeline}/${o.exporter.name}`;
  }

  get source(): LogSource {
    return this.o.source;
  }

  get exporter(): Exporter {
    return this.o.exporter;
  }

  shutdown(): Promise<void> {
    return this.stop();
  }

  async start(): Promise<void> {
    await this.o.exporter.start();
    for (const p of this.o.processors) await p.start?.();
    await this.o.source.start((batch, control) => this.handle(batch, control));
  }

  async stop(): Promise<void> {
    await this.o.source.stop();
    for (const p of this.o.processors) await p.shutdown?.();
    await this.o.exporter.shutdown();
  }

  private async handle(batch: PartitionBatch, control: BatchControl): Promise<void> {
    const { exporter, metrics } = this.o;
    const kind = this.o.topicKinds.get(batch.topic) ?? "logs";
    let records: PipelineRecord[] = [];
    for (const m of batch.messages) {
      try {
        const decoded = decodeEnvelopeRecords(m.value, m, kind);
        for (const r of decoded) records.push(r);
      } catch (err) {
        if (this.o.reportsUndecodable) {
          await this.retrying(control, "dead letter", () =>
            this.o.deadLetters.undecodable(
              this.o.pipeline,
              m,
              `cannot decode envelope: ${(err as Error).message}`,
            ),
          );
        }
      }
    }
    const ctx = { topic: batch.topic, partition: batch.partition };
    for (const p of this.o.processors) records = p.process(records, ctx);
    const mine = records.filter((r) => r.routes === undefined || r.routes.includes(exporter.name));
    const first = batch.messages[0];
    const last = batch.messages[batch.messages.length - 1];
    if (mine.length && first && last) {
      const result = await this.retrying(control, "write", async () => {
        try {
          return await exporter.write({
            records: mine,
            topic: batch.topic,
            partition: batch.partition,
            firstOffset: first.offset,
            lastOffset: last.offset,
          });
        } catch (err) {
          if (isSluiceError(err) && !err.retryable) {
            // The batch can never succeed as a whole: every record goes to the dead letters with the reason.
            return { failed: mine.map((record) => ({ record, code: err.code, reason: err.message })) };
          }
          throw err;
        }
      });
      afterSinkWrite(exporter.name);
      const failedIds = new Set(result.failed.map((f) => f.record));
      metrics.exporterRecords.inc(
        { exporter: exporter.name, outcome: "written" },
        mine.length - failedIds.size,
      );
      if (result.failed.length) {
        metrics.exporterRecords.inc(
          { exporter: exporter.name, outcome: "dead_lettered" },
          result.failed.length,
        );
        await this.retrying(control, "dead letter", () =>
          this.o.deadLetters.records(this.stage, result.failed),
        );
      }
    }
  }

  /**
   * Runs one attempt while heartbeating the group: a sink write can outlast the
   * session timeout (a slow bulk index, a busy machine), and a member that goes
   * quiet that long is dropped and its partition replayed by another.
   */
  private async heartbeating<T>(control: BatchControl, what: string, fn: () => Promise<T>): Promise<T> {
    let lost: Error | undefined;
    const timer = setInterval(() => {
      control.heartbeat().catch((err: Error) => {
        lost ??= err;
      });
    }, this.o.heartbeatIntervalMs ?? HEARTBEAT_DURING_WRITE_MS);
    // The write may land even so, but the partition may belong to another member now: do not commit.
    const stop = () => {
      clearInterval(timer);
      if (lost) throw new HandlerAborted(`${this.stage}: lost the partition during ${what}: ${lost.message}`);
    };
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      stop();
      throw err;
    }
    stop();
    return result;
  }

  /** Runs fn until it succeeds, backing off exponentially; gives up only when the source deactivates. */
  private async retrying<T>(control: BatchControl, what: string, fn: () => Promise<T>): Promise<T> {
    let delay = this.o.retry.initialIntervalMs;
    for (;;) {
      if (!control.isActive()) throw new HandlerAborted(`${this.stage}: stopped before ${what} succeeded`);
      try {
        return await this.heartbeating(control, what, fn);
      } catch (err) {
        if (err instanceof HandlerAborted) throw err;
        this.o.metrics.exporterRetries.inc({ exporter: this.o.exporter.name });
        this.o.logger.warn(
          { err: (err as Error).message, stage: this.stage, retryInMs: delay },
          `${what} failed; retrying`,
        );
        const until = Date.now() + delay;
        while (Date.now() < until) {
          if (!control.isActive()) throw new HandlerAborted(`${this.stage}: stopped while retrying ${what}`);
          try {
            await control.heartbeat();
          } catch (err) {
            // A failed heartbeat means the group is rebalancing or has dropped this member: the
            // partition may belong to someone else now, so stop without committing and let it replay.
            throw new HandlerAborted(
              `${this.stage}: lost the partition while retrying ${what}: ${(err as Error).message}`,
            );
          }
          await sleep(Math.min(250, until - Date.now()));
        }
        delay = Math.min(delay * 2, this.o.retry.maxIntervalMs);
      }
    }
  }
}
