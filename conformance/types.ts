/** Shared shapes of the conformance suite: what a run is asked to do and what each check reports. */

export type Transport = "http" | "grpc" | "forward";
export type Outcome = "pass" | "fail" | "n/a";

/**
 * How hard the specification asks for the behaviour: its MUST or SHOULD, or
 * "strict" where the spec leaves it open (MAY, or plain HTTP semantics) and
 * the suite asks for it anyway because clients behave better with it.
 */
export type Level = "MUST" | "SHOULD" | "strict";

const LEVELS: Record<string, Level> = {
  "http.protobuf.success": "MUST",
  "http.protobuf.response-type": "MUST",
  "http.json.success": "MUST",
  "http.json.response-type": "MUST",
  "http.protobuf.partial-unset": "MUST",
  "http.json.partial-unset": "MUST",
  "grpc.partial-unset": "MUST",
  "http.protobuf.gzip": "MUST",
  "http.json.gzip": "MUST",
  "http.protobuf.empty": "SHOULD",
  "http.json.empty": "SHOULD",
  "http.protobuf.undecodable": "MUST",
  "http.json.invalid": "MUST",
  "http.unsupported-media-type": "strict",
  "http.oversized": "SHOULD",
  "http.partial-success": "MUST",
  "http.bad-data-not-retryable": "MUST",
  "http.throttling.retry-after": "strict",
  "grpc.success": "MUST",
  "grpc.gzip": "MUST",
  "grpc.empty": "SHOULD",
  "grpc.undecodable": "SHOULD",
  "grpc.oversized": "SHOULD",
  "grpc.partial-success": "MUST",
  "grpc.bad-data-not-retryable": "MUST",
  "grpc.throttling.retry-info": "strict",
};

/** The Forward protocol's own rules (ack of a chunk, the handshake) are all MUSTs. */
export const levelOf = (id: string): Level => LEVELS[id] ?? "MUST";

export interface Result {
  id: string;
  transport: Transport;
  description: string;
  level: Level;
  result: Outcome;
  /** Expected versus received for a failure, what was seen for a pass, why for n/a. */
  reason: string;
}

export interface ConformanceOptions {
  /** Base URL of the OTLP/HTTP endpoint, e.g. http://127.0.0.1:4318 (the logs path is appended). */
  http?: string;
  /** Path of the logs export on the HTTP endpoint. */
  httpLogsPath?: string;
  /** host:port of the OTLP/gRPC endpoint. */
  grpc?: string;
  /** host:port of a Fluent Forward endpoint. */
  forward?: string;
  sharedKey?: string;
  /** The endpoint's request size limit; the oversize checks need it to know what "too big" is. */
  maxBodyBytes?: number;
  /** The gRPC message size limit when it differs from maxBodyBytes. */
  maxGrpcBytes?: number;
  /** Requests in the overload burst; 0 or absent skips the probe. */
  overloadProbe?: number;
  /** Budget for one request or exchange. */
  timeoutMs?: number;
}

export interface Check {
  id: string;
  transport: Transport;
  description: string;
}

const outcome = (c: Check, result: Outcome, reason: string): Result => ({
  id: c.id,
  transport: c.transport,
  description: c.description,
  level: levelOf(c.id),
  result,
  reason,
});

export const pass = (c: Check, reason: string): Result => outcome(c, "pass", reason);
export const fail = (c: Check, reason: string): Result => outcome(c, "fail", reason);
export const notApplicable = (c: Check, reason: string): Result => outcome(c, "n/a", reason);

export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
  }
  return String(err);
}
