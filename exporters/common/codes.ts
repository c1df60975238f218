/**
 * Reason codes the sinks report. They live here rather than in
 * core/errors.ts because only exporters produce them: a per-record refusal
 * carries one as RecordFailure.code, and a whole-batch failure is a
 * SinkError, which is an ordinary SluiceError (code INTERNAL) that also
 * names the sink-level reason for logs and metrics.
 */
import { ErrorCode, SluiceError } from "../../core/errors.js";

export const SinkCode = {
  /** The sink cannot take writes right now (down, locked, disk full); retry the batch. */
  SINK_UNAVAILABLE: "SINK_UNAVAILABLE",
  /** The sink refused this record and always will; dead-letter it alone. */
  SINK_REJECTED: "SINK_REJECTED",
  /** The record's fields clash with the sink's existing mapping or schema; dead-letter it alone. */
  SINK_MAPPING_CONFLICT: "SINK_MAPPING_CONFLICT",
} as const;

export type SinkCode = (typeof SinkCode)[keyof typeof SinkCode];

export class SinkError extends SluiceError {
  readonly sinkCode: SinkCode;

  constructor(
    sinkCode: SinkCode,
    message: string,
    options: { retryable?: boolean; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(ErrorCode.INTERNAL, message, options);
    this.name = "SinkError";
    this.sinkCode = sinkCode;
  }
}

/** A retryable failure of the whole batch, keeping what was thrown as the cause. */
export function sinkUnavailable(exporter: string, err: unknown, retryAfterMs = 1000): SinkError {
  const detail = err instanceof Error ? err.message : String(err);
  return new SinkError(SinkCode.SINK_UNAVAILABLE, `${exporter}: ${detail}`, {
    retryable: true,
    retryAfterMs,
    cause: err,
  });
}

/** Thrown by write() after shutdown() began; the consumer retries it against the next process. */
export function sinkShuttingDown(exporter: string): SluiceError {
  return new SluiceError(ErrorCode.SHUTTING_DOWN, `${exporter} is shutting down`, { retryable: true });
}
