/**
 * The requests the suite sends and the decoding of what comes back. Requests
 * are built from the published OTLP schema so any endpoint can read them; the
 * JSON form is written by hand because OTLP/JSON differs from the canonical
 * protobuf JSON mapping (hex trace ids, for one).
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { RetryInfoSchema } from "../proto/gen/google/rpc/error_details_pb.js";
import { type Status, StatusSchema } from "../proto/gen/google/rpc/status_pb.js";
import {
  ExportLogsServiceRequestSchema,
  type ExportLogsServiceResponse,
  ExportLogsServiceResponseSchema,
} from "../proto/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js";

const SERVICE = "sluice-conformance";

export function protoRequest(body: string, traceId?: Uint8Array): Uint8Array {
  return toBinary(
    ExportLogsServiceRequestSchema,
    create(ExportLogsServiceRequestSchema, {
      resourceLogs: [
        {
          resource: {
            attributes: [{ key: "service.name", value: { value: { case: "stringValue", value: SERVICE } } }],
          },
          scopeLogs: [
            {
              scope: { name: SERVICE },
              logRecords: [
                {
                  timeUnixNano: BigInt(Date.now()) * 1_000_000n,
                  severityNumber: 9,
                  severityText: "INFO",
                  body: { value: { case: "stringValue", value: body } },
                  ...(traceId ? { traceId } : {}),
                },
              ],
            },
          ],
        },
      ],
    }),
  );
}

export function jsonRequest(body: string): string {
  return JSON.stringify({
    resourceLogs: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: SERVICE } }] },
        scopeLogs: [
          {
            scope: { name: SERVICE },
            logRecords: [
              {
                timeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
                severityNumber: 9,
                severityText: "INFO",
                body: { stringValue: body },
              },
            ],
          },
        ],
      },
    ],
  });
}

/** A trace id must be 16 bytes; two bytes still decode, so only the data model is broken. */
export const SHORT_TRACE_ID = new Uint8Array([0x01, 0x02]);

/**
 * A field header claiming a long length-delimited field that the buffer does
 * not hold: no protobuf decoder can accept it.
 */
export function undecodableProtobuf(): Uint8Array {
  const valid = protoRequest("truncated");
  return valid.subarray(0, Math.max(1, valid.length - 7));
}

export function decodeResponse(bytes: Uint8Array): ExportLogsServiceResponse {
  return fromBinary(ExportLogsServiceResponseSchema, bytes);
}

export function decodeStatus(bytes: Uint8Array): Status {
  return fromBinary(StatusSchema, bytes);
}

/** RetryInfo's delay in milliseconds when the Status carries one. */
export function retryDelayMs(status: Status): number | undefined {
  for (const any of status.details) {
    const info = anyUnpack(any, RetryInfoSchema);
    if (info) {
      const d = info.retryDelay;
      return d ? Number(d.seconds) * 1000 + Math.floor(d.nanos / 1_000_000) : 0;
    }
  }
  return undefined;
}

/** Describes partial_success for a reason column; undefined when the field is unset. */
export function describePartial(
  partial: { rejectedLogRecords: bigint; errorMessage: string } | undefined,
): string | undefined {
  if (!partial) return undefined;
  return `partial_success{rejected_log_records=${partial.rejectedLogRecords}, error_message=${JSON.stringify(partial.errorMessage)}}`;
}

type Partial = { rejectedLogRecords: bigint; errorMessage: string } | undefined;

/** Whether a success answer rejected nothing; the shape of partial_success is judged apart. */
export function rejectsNothing(partial: Partial): { ok: boolean; text: string } {
  if (!partial) return { ok: true, text: "partial_success unset" };
  const seen = describePartial(partial);
  return partial.rejectedLogRecords === 0n
    ? { ok: true, text: `nothing rejected, ${seen}` }
    : { ok: false, text: `expected no rejected records, received ${seen}` };
}

/**
 * The answer to one record with a bad trace_id, when the endpoint accepted the
 * request: partial_success must reject exactly that record and say why.
 * `alternative` names the other answer the check allows, `none` what came back.
 */
export function rejectsOneRecord(
  partial: Partial,
  alternative: string,
  none: string,
): { ok: boolean; text: string } {
  if (!partial)
    return {
      ok: false,
      text: `expected partial_success with 1 rejected record or ${alternative}, received ${none}`,
    };
  if (partial.rejectedLogRecords !== 1n || partial.errorMessage === "")
    return {
      ok: false,
      text: `expected rejected_log_records=1 and an error_message, received ${describePartial(partial)}`,
    };
  return { ok: true, text: `partial success: ${describePartial(partial)}` };
}

/**
 * A full success leaves partial_success unset; the one exception is a warning,
 * which rejects nothing and carries an error_message.
 */
export function partialUnset(partial: Partial): { ok: boolean; text: string } {
  if (!partial) return { ok: true, text: "partial_success unset" };
  const seen = describePartial(partial);
  if (partial.rejectedLogRecords === 0n && partial.errorMessage !== "")
    return { ok: true, text: `a warning: ${seen}` };
  return {
    ok: false,
    text: `expected partial_success unset (or a warning with an error_message), received ${seen}`,
  };
}

/** A body of at least `bytes` protobuf bytes, for size limits and load. */
export function protoRequestOfSize(bytes: number): Uint8Array {
  return protoRequest("x".repeat(Math.max(0, bytes)));
}

export const HTTP_RETRYABLE = new Set([429, 502, 503, 504]);

/** gRPC codes OTLP lets a client retry; RESOURCE_EXHAUSTED only with RetryInfo, handled apart. */
export const GRPC_RETRYABLE = new Set([1, 4, 10, 11, 14, 15]);

export const GRPC_CODE_NAMES: Record<number, string> = {
  0: "OK",
  1: "CANCELLED",
  2: "UNKNOWN",
  3: "INVALID_ARGUMENT",
  4: "DEADLINE_EXCEEDED",
  5: "NOT_FOUND",
  6: "ALREADY_EXISTS",
  7: "PERMISSION_DENIED",
  8: "RESOURCE_EXHAUSTED",
  9: "FAILED_PRECONDITION",
  10: "ABORTED",
  11: "OUT_OF_RANGE",
  12: "UNIMPLEMENTED",
  13: "INTERNAL",
  14: "UNAVAILABLE",
  15: "DATA_LOSS",
  16: "UNAUTHENTICATED",
};

export const grpcName = (code: number): string => GRPC_CODE_NAMES[code] ?? `code ${code}`;
