/**
 * The benchmark's records. Every record carries its own `log.record.uid`,
 * so its event id is known to the client and unique: the sinks keep every
 * record (identical records would share an event id and be stored once).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { ExportLogsServiceRequestSchema } from "../../proto/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js";

const FILLER = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ";

const str = (value: string) => ({ value: { case: "stringValue" as const, value } });
const int = (value: bigint) => ({ value: { case: "intValue" as const, value } });

function bodyText(size: number, seq: number): string {
  let s = `request ${seq} handled `;
  while (s.length < size) s += FILLER;
  return s.slice(0, Math.max(size, 1));
}

/** Event id of preloaded record `seq`. */
export function recordId(run: string, seq: number): string {
  return `${run}-r${seq}`;
}

/** Event id of latency probe `i`. */
export function probeId(run: string, i: number): string {
  return `${run}-p${i}`;
}

/** What every preloaded record's id starts with (probes start differently). */
export function recordIdPrefix(run: string): string {
  return `${run}-r`;
}

export function seqOfRecordId(run: string, id: string): number | undefined {
  const prefix = recordIdPrefix(run);
  if (!id.startsWith(prefix)) return undefined;
  const n = Number(id.slice(prefix.length));
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

export function probeIndex(run: string, id: string): number | undefined {
  const prefix = `${run}-p`;
  if (!id.startsWith(prefix)) return undefined;
  const n = Number(id.slice(prefix.length));
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

export interface PreloadShape {
  run: string;
  /** Body text bytes per record. */
  recordSize: number;
  /** Distinct service.name values, in rotation per request (the log's key). */
  keys: number;
}

/**
 * One OTLP/protobuf request with `count` records from `first`, one service.
 * One record in ten is a structured event (the events topic), the rest
 * plain logs at INFO or WARN, as in a typical mixed stream.
 */
export function preloadRequest(shape: PreloadShape, first: number, count: number): Uint8Array {
  const now = BigInt(Date.now()) * 1_000_000n;
  const service = `bench-svc-${Math.floor(first / count) % shape.keys}`;
  return toBinary(
    ExportLogsServiceRequestSchema,
    create(ExportLogsServiceRequestSchema, {
      resourceLogs: [
        {
          resource: {
            attributes: [
              { key: "service.name", value: str(service) },
              { key: "host.name", value: str("bench-host") },
            ],
          },
          scopeLogs: [
            {
              scope: { name: "sluice-bench", version: "1" },
              logRecords: Array.from({ length: count }, (_, i) => {
                const seq = first + i;
                const event = seq % 10 === 0;
                const warn = !event && seq % 7 === 0;
                return {
                  timeUnixNano: now + BigInt(i),
                  observedTimeUnixNano: now + BigInt(i),
                  severityNumber: warn ? 13 : 9,
                  severityText: warn ? "WARN" : "INFO",
                  eventName: event ? "bench.order_placed" : "",
                  body: str(bodyText(shape.recordSize, seq)),
                  attributes: [
                    { key: "log.record.uid", value: str(recordId(shape.run, seq)) },
                    { key: "bench.seq", value: int(BigInt(seq)) },
                    { key: "http.status_code", value: int(warn ? 503n : 200n) },
                  ],
                };
              }),
            },
          ],
        },
      ],
    }),
  );
}

/** One probe record: a plain INFO log with its id and the client's send time (ns since the epoch). */
export function probeRequest(id: string, sentUnixNano: bigint): Uint8Array {
  return toBinary(
    ExportLogsServiceRequestSchema,
    create(ExportLogsServiceRequestSchema, {
      resourceLogs: [
        {
          resource: { attributes: [{ key: "service.name", value: str("bench-probe") }] },
          scopeLogs: [
            {
              scope: { name: "sluice-bench-probe", version: "1" },
              logRecords: [
                {
                  timeUnixNano: sentUnixNano,
                  observedTimeUnixNano: sentUnixNano,
                  severityNumber: 9,
                  severityText: "INFO",
                  body: str(`latency probe ${id}`),
                  attributes: [
                    { key: "log.record.uid", value: str(id) },
                    { key: "bench.sent_unix_nano", value: int(sentUnixNano) },
                  ],
                },
              ],
            },
          ],
        },
      ],
    }),
  );
}
