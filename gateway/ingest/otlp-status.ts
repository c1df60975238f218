/**
 * Turns outcomes and SluiceErrors into OTLP's answers: HTTP status plus a
 * google.rpc.Status body, or a gRPC code plus grpc-status-details-bin.
 * Both transports share this table so they never disagree.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack, DurationSchema } from "@bufbuild/protobuf/wkt";
import { ErrorCode, type SluiceError } from "../../core/errors.js";
import { RetryInfoSchema } from "../../proto/gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../proto/gen/google/rpc/status_pb.js";
import { ExportLogsServiceResponseSchema } from "../../proto/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js";
import type { IngestOutcome } from "./ingest-service.js";

/** gRPC status codes used by OTLP (numeric values are fixed by gRPC). */
export const GrpcCode = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

interface Mapping {
  http: number;
  grpc: number;
}

const MAPPINGS: Record<ErrorCode, Mapping> = {
  [ErrorCode.MALFORMED_PAYLOAD]: { http: 400, grpc: GrpcCode.INVALID_ARGUMENT },
  [ErrorCode.INVALID_DATA]: { http: 400, grpc: GrpcCode.INVALID_ARGUMENT },
  [ErrorCode.EMPTY_REQUEST]: { http: 400, grpc: GrpcCode.INVALID_ARGUMENT },
  [ErrorCode.PAYLOAD_TOO_LARGE]: { http: 413, grpc: GrpcCode.RESOURCE_EXHAUSTED },
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: { http: 415, grpc: GrpcCode.UNIMPLEMENTED },
  [ErrorCode.OVERLOADED]: { http: 429, grpc: GrpcCode.RESOURCE_EXHAUSTED },
  [ErrorCode.LOG_UNAVAILABLE]: { http: 503, grpc: GrpcCode.UNAVAILABLE },
  [ErrorCode.SHUTTING_DOWN]: { http: 503, grpc: GrpcCode.UNAVAILABLE },
  [ErrorCode.INVALID_CONFIG]: { http: 500, grpc: GrpcCode.INTERNAL },
  [ErrorCode.INTERNAL]: { http: 500, grpc: GrpcCode.INTERNAL },
};

export function mappingFor(err: SluiceError): Mapping {
  return MAPPINGS[err.code] ?? MAPPINGS[ErrorCode.INTERNAL];
}

/** Whole seconds for Retry-After; at least 1, since 0 invites a hot retry loop. */
export function retryAfterSeconds(err: SluiceError): number | undefined {
  if (!err.retryable || err.retryAfterMs === undefined) return undefined;
  return Math.max(1, Math.ceil(err.retryAfterMs / 1000));
}

function retryDelay(err: SluiceError) {
  const ms = err.retryAfterMs ?? 0;
  return create(DurationSchema, { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 });
}

/** google.rpc.Status in protobuf, with RetryInfo attached when the client may retry. */
export function statusProtobuf(err: SluiceError): Uint8Array {
  const { grpc } = mappingFor(err);
  const details =
    err.retryable && err.retryAfterMs !== undefined
      ? [anyPack(RetryInfoSchema, create(RetryInfoSchema, { retryDelay: retryDelay(err) }))]
      : [];
  return toBinary(StatusSchema, create(StatusSchema, { code: grpc, message: err.message, details }));
}

/** google.rpc.Status in OTLP/JSON form. */
export function statusJson(err: SluiceError): string {
  const { grpc } = mappingFor(err);
  const body: Record<string, unknown> = { code: grpc, message: err.message };
  if (err.retryable && err.retryAfterMs !== undefined) {
    body.details = [
      { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: `${err.retryAfterMs / 1000}s` },
    ];
  }
  return JSON.stringify(body);
}

const EMPTY_RESPONSE = new Uint8Array(0);

/** ExportLogsServiceResponse; partial_success only when records were rejected. */
export function responseProtobuf(outcome: IngestOutcome): Uint8Array {
  if (outcome.rejectedRecords === 0) return EMPTY_RESPONSE;
  return toBinary(
    ExportLogsServiceResponseSchema,
    create(ExportLogsServiceResponseSchema, {
      partialSuccess: {
        rejectedLogRecords: BigInt(outcome.rejectedRecords),
        errorMessage: outcome.errorMessage,
      },
    }),
  );
}

export function responseJson(outcome: IngestOutcome): string {
  if (outcome.rejectedRecords === 0) return "{}";
  return JSON.stringify({
    partialSuccess: {
      rejectedLogRecords: String(outcome.rejectedRecords),
      errorMessage: outcome.errorMessage,
    },
  });
}
