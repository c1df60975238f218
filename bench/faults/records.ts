/** The fault suite's records: unique, stable ids and a known destination for each. */
import { create, toBinary } from "@bufbuild/protobuf";
import { ExportLogsServiceRequestSchema } from "../../proto/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js";

export type Sink = "opensearch" | "clickhouse" | "s3";
export const SINKS: readonly Sink[] = ["opensearch", "clickhouse", "s3"];

const SEVERITIES = [
  { number: 5, text: "DEBUG" },
  { number: 9, text: "INFO" },
  { number: 13, text: "WARN" },
  { number: 17, text: "ERROR" },
] as const;

/** One record in ten is an event; logs cycle through severities so some stay below INFO. */
export function isEvent(seq: number): boolean {
  return seq % 10 === 0;
}

function severityOf(seq: number): { number: number; text: string } {
  return SEVERITIES[seq % SEVERITIES.length] ?? SEVERITIES[0];
}

/** Mirrors the suite's route rules: events → clickhouse, logs ≥ INFO → opensearch, all → s3. */
export function routedTo(seq: number, sink: Sink): boolean {
  if (sink === "s3") return true;
  if (sink === "clickhouse") return isEvent(seq);
  return !isEvent(seq) && severityOf(seq).number >= 9;
}

export function uidOf(run: string, seq: number): string {
  return `${run}-${seq}`;
}

/** Parses an id written by uidOf back to its seq; undefined for anything this run did not send. */
export function seqOfUid(run: string, uid: string): number | undefined {
  if (!uid.startsWith(`${run}-`)) return undefined;
  const n = Number(uid.slice(run.length + 1));
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

const str = (value: string) => ({ value: { case: "stringValue" as const, value } });

/** An OTLP/protobuf request with `count` records from `first`; a retry resends these same bytes. */
export function buildRequest(run: string, service: string, first: number, count: number): Uint8Array {
  const now = BigInt(Date.now()) * 1_000_000n;
  return toBinary(
    ExportLogsServiceRequestSchema,
    create(ExportLogsServiceRequestSchema, {
      resourceLogs: [
        {
          resource: { attributes: [{ key: "service.name", value: str(service) }] },
          scopeLogs: [
            {
              scope: { name: "sluice-faults" },
              logRecords: Array.from({ length: count }, (_, i) => {
                const seq = first + i;
                const sev = severityOf(seq);
                return {
                  timeUnixNano: now,
                  observedTimeUnixNano: now,
                  severityNumber: isEvent(seq) ? 9 : sev.number,
                  severityText: isEvent(seq) ? "INFO" : sev.text,
                  eventName: isEvent(seq) ? "faults.tick" : "",
                  body: str(`fault suite record ${seq}`),
                  attributes: [
                    { key: "seq", value: { value: { case: "intValue" as const, value: BigInt(seq) } } },
                    { key: "log.record.uid", value: str(uidOf(run, seq)) },
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
