/**
 * An OTLP logs client for the benchmarks that audit delivery: sends encoded
 * ExportLogsServiceRequests over OTLP/HTTP (protobuf or JSON) or OTLP/gRPC,
 * reports each answer with what the OTLP specification says a client may do
 * with it, and retries the way the specification asks:
 *
 * - HTTP: 429, 502, 503 and 504 are retryable, honouring `Retry-After`;
 *   every other status (400 included) is final. Connection errors are retried.
 * - gRPC: CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE and
 *   DATA_LOSS are retryable; RESOURCE_EXHAUSTED only when the server attached
 *   a `google.rpc.RetryInfo`, whose delay is honoured. Other codes are final.
 * - Otherwise exponential backoff with jitter, within a budget of time (and
 *   optionally attempts); a request still refused at the end is given up.
 *
 * A record counts as acknowledged only when its request got a success.
 */
import http from "node:http";
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { Client, credentials, status as grpcStatus, Metadata, type ServiceError } from "@grpc/grpc-js";
import { RetryInfoSchema } from "../../proto/gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../proto/gen/google/rpc/status_pb.js";

export type Protocol = "http/protobuf" | "http/json" | "grpc";
export const PROTOCOLS: readonly Protocol[] = ["http/protobuf", "http/json", "grpc"];

export interface Answer {
  ok: boolean;
  /** What came back: "200", "429", "grpc RESOURCE_EXHAUSTED", "connection error", "timeout". */
  status: string;
  /** May a client resend, per the OTLP specification? */
  retryable: boolean;
  /** The server's own delay hint: Retry-After (HTTP) or RetryInfo (gRPC), when it sent one. */
  retryAfterMs?: number;
  /** The error code of a connection failure (ECONNRESET, ...) or the gRPC details text. */
  detail?: string;
}

export interface Transport {
  send(body: Uint8Array): Promise<Answer>;
  close(): void;
}

const HTTP_RETRYABLE = new Set([429, 502, 503, 504]);

/** Retry-After is either delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export interface HttpTransportOptions {
  /** http://host:port; the path defaults to /v1/logs. */
  endpoint: string;
  json?: boolean;
  /** Sockets kept to the server: the most requests this transport has in flight at once. */
  maxSockets: number;
  timeoutMs: number;
}

/** OTLP/HTTP over node:http with keep-alive. */
export function httpTransport(opts: HttpTransportOptions): Transport {
  const url = new URL(opts.endpoint);
  const path = url.pathname === "/" ? "/v1/logs" : url.pathname;
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: opts.maxSockets,
    maxFreeSockets: opts.maxSockets,
  });
  const contentType = opts.json ? "application/json" : "application/x-protobuf";
  return {
    send(body) {
      return new Promise<Answer>((resolve) => {
        let settled = false;
        const done = (a: Answer) => {
          if (!settled) {
            settled = true;
            resolve(a);
          }
        };
        const req = http.request(
          {
            agent,
            host: url.hostname,
            port: url.port,
            path,
            method: "POST",
            headers: { "content-type": contentType, "content-length": body.length },
            timeout: opts.timeoutMs,
          },
          (res) => {
            const code = res.statusCode ?? 0;
            const retryAfterMs = parseRetryAfter(res.headers["retry-after"]);
            // Drained, not parsed: a 200 is the gateway's durability promise.
            res.on("data", () => {});
            res.on("end", () =>
              done({
                ok: code === 200,
                status: String(code),
                retryable: HTTP_RETRYABLE.has(code),
                ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
              }),
            );
            res.on("error", (err: NodeJS.ErrnoException) =>
              done({
                ok: false,
                status: "connection error",
                retryable: true,
                detail: err.code ?? err.message,
              }),
            );
          },
        );
        req.on("timeout", () => {
          // Whether the body had left the client tells a server that never answered from one that stopped reading.
          const sent = req.writableFinished ? "body sent" : "body not fully sent";
          done({
            ok: false,
            status: "timeout",
            retryable: true,
            detail: `no answer in ${opts.timeoutMs} ms (${sent})`,
          });
          req.destroy();
        });
        req.on("error", (err: NodeJS.ErrnoException) =>
          done({ ok: false, status: "connection error", retryable: true, detail: err.code ?? err.message }),
        );
        req.end(body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}

const EXPORT_PATH = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
const GRPC_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(grpcStatus)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => [v, k]),
);
const GRPC_RETRYABLE = new Set<number>([
  grpcStatus.CANCELLED,
  grpcStatus.DEADLINE_EXCEEDED,
  grpcStatus.ABORTED,
  grpcStatus.OUT_OF_RANGE,
  grpcStatus.UNAVAILABLE,
  grpcStatus.DATA_LOSS,
]);

/** RetryInfo's delay from a google.rpc.Status in grpc-status-details-bin, if the server attached one. */
export function retryInfoMs(metadata: Metadata | undefined): number | undefined {
  const raw = metadata?.get("grpc-status-details-bin")[0];
  if (!raw || typeof raw === "string") return undefined;
  try {
    const status = fromBinary(StatusSchema, new Uint8Array(raw));
    for (const any of status.details) {
      const info = anyUnpack(any, RetryInfoSchema);
      if (info) {
        const d = info.retryDelay;
        return d ? Number(d.seconds) * 1000 + Math.round(d.nanos / 1e6) : 0;
      }
    }
  } catch {
    // Undecodable details are no hint.
  }
  return undefined;
}

export interface GrpcTransportOptions {
  /** host:port */
  address: string;
  timeoutMs: number;
}

/** OTLP/gRPC through one grpc-js channel, the request passed as raw bytes. */
export function grpcTransport(opts: GrpcTransportOptions): Transport {
  const client = new Client(opts.address, credentials.createInsecure(), {
    "grpc.max_send_message_length": 64 * 1024 * 1024,
  });
  const identity = (b: Buffer) => b;
  return {
    send(body) {
      return new Promise<Answer>((resolve) => {
        client.makeUnaryRequest<Buffer, Buffer>(
          EXPORT_PATH,
          identity,
          identity,
          Buffer.from(body.buffer, body.byteOffset, body.byteLength),
          new Metadata(),
          { deadline: Date.now() + opts.timeoutMs },
          (err: ServiceError | null) => {
            if (!err) return resolve({ ok: true, status: "grpc OK", retryable: false });
            const retryAfterMs = retryInfoMs(err.metadata);
            const retryable =
              GRPC_RETRYABLE.has(err.code) ||
              (err.code === grpcStatus.RESOURCE_EXHAUSTED && retryAfterMs !== undefined);
            resolve({
              ok: false,
              status: `grpc ${GRPC_NAMES[err.code] ?? err.code}`,
              retryable,
              detail: err.details,
              ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
            });
          },
        );
      });
    },
    close() {
      client.close();
    },
  };
}

export interface RetryPolicy {
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** A request still unacknowledged this long after its first attempt is given up. */
  giveUpAfterMs: number;
  /** At most this many attempts (default: only the time budget). */
  maxAttempts?: number;
}

export type ExportOutcome =
  /** Acknowledged: its records are durable. */
  | "acked"
  /** A final refusal: the specification says not to retry, so the data is dropped. */
  | "rejected"
  /** Still refused when the retry budget ran out. */
  | "abandoned";

export interface ExportResult {
  outcome: ExportOutcome;
  attempts: number;
}

export interface ExportHooks {
  /** Every answer, in order (attempt counts from 1). */
  onAnswer?(answer: Answer, attempt: number): void;
  /** Called once, before the second attempt: the request's records may now be duplicated. */
  onResend?(): void;
  /** A stop request: no further attempt starts once it is set. */
  stopped?(): boolean;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Sends one request until it is acknowledged, finally refused, or out of
 * budget. `attempt` sends the request once (the same records each time).
 */
export async function exportWithRetry(
  attempt: () => Promise<Answer>,
  policy: RetryPolicy,
  hooks: ExportHooks = {},
): Promise<ExportResult> {
  const giveUpAt = Date.now() + policy.giveUpAfterMs;
  let backoff = policy.initialBackoffMs;
  for (let n = 1; ; n++) {
    if (n === 2) hooks.onResend?.();
    const answer = await attempt();
    hooks.onAnswer?.(answer, n);
    if (answer.ok) return { outcome: "acked", attempts: n };
    if (!answer.retryable) return { outcome: "rejected", attempts: n };
    const jittered = backoff / 2 + Math.random() * (backoff / 2);
    const wait = Math.max(jittered, answer.retryAfterMs ?? 0);
    if (
      Date.now() + wait > giveUpAt ||
      (policy.maxAttempts !== undefined && n >= policy.maxAttempts) ||
      hooks.stopped?.()
    ) {
      return { outcome: "abandoned", attempts: n };
    }
    await sleep(wait);
    backoff = Math.min(backoff * 2, policy.maxBackoffMs);
  }
}
