/**
 * Records with unique, stable ids for the benchmarks that audit delivery
 * (the fault suite, the overload run). Each record carries
 * `log.record.uid` = `<run>-<seq>`, which the pipeline takes as its event
 * id, so every sink can be read back and compared with what a client was
 * told was durable.
 */
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { ExportLogsServiceRequestSchema } from "../../proto/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js";

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

export function severityOf(seq: number): { number: number; text: string } {
  return SEVERITIES[seq % SEVERITIES.length] ?? SEVERITIES[0];
}

export function uidOf(run: string, seq: number): string {
  return `${run}-${seq}`;
}

/** Parses an id written by uidOf (or a RequestTemplate) back to its seq; undefined for anything this run did not send. */
export function seqOfUid(run: string, uid: string): number | undefined {
  if (!uid.startsWith(`${run}-`)) return undefined;
  const n = Number(uid.slice(run.length + 1));
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

const str = (value: string) => ({ value: { case: "stringValue" as const, value } });

/** Severity and kind follow `seq`; a `seq` int attribute is added when given. */
function logRecord(o: {
  seq: number;
  now: bigint;
  uid: string;
  body: string;
  event: string;
  seqAttr: boolean;
}) {
  const sev = severityOf(o.seq);
  const event = isEvent(o.seq);
  const attributes = [{ key: "log.record.uid", value: str(o.uid) }];
  return {
    timeUnixNano: o.now,
    observedTimeUnixNano: o.now,
    severityNumber: event ? 9 : sev.number,
    severityText: event ? "INFO" : sev.text,
    eventName: event ? o.event : "",
    body: str(o.body),
    attributes: o.seqAttr
      ? [{ key: "seq", value: { value: { case: "intValue" as const, value: BigInt(o.seq) } } }, ...attributes]
      : attributes,
  };
}

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
                return logRecord({
                  seq,
                  now,
                  uid: uidOf(run, seq),
                  body: `fault suite record ${seq}`,
                  event: "faults.tick",
                  seqAttr: true,
                });
              }),
            },
          ],
        },
      ],
    }),
  );
}

/** Digits of the seq in a RequestTemplate's ids: fixed width, so ids can be written in place. */
export const UID_DIGITS = 10;
const MAX_TEMPLATE_SEQ = 10 ** UID_DIGITS - 1;

export type TemplateEncoding = "protobuf" | "json";

const FILLER = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ";

/**
 * One encoded request, built once, whose records' ids are rewritten in place
 * for each new request: a copy and a few thousand digit writes instead of a
 * protobuf encode, so a load generator can offer far more records per second
 * than it could encode. Ids are `<run>-<seq, zero-padded to UID_DIGITS>`
 * (which seqOfUid reads back), the same length in every request, so the
 * protobuf (or JSON) framing never changes. Record i of a request is an event
 * when isEvent(i), so both record topics are written.
 */
export class RequestTemplate {
  readonly bytes: Buffer;
  readonly records: number;
  private readonly idOffsets: Int32Array;

  constructor(opts: {
    run: string;
    service: string;
    records: number;
    recordSize: number;
    encoding: TemplateEncoding;
  }) {
    const { run, service, records, recordSize } = opts;
    if (!/^[a-z0-9-]+$/.test(run)) throw new Error(`run id must be [a-z0-9-]: ${run}`);
    const now = BigInt(Date.now()) * 1_000_000n;
    let body = "";
    while (body.length < recordSize) body += FILLER;
    body = body.slice(0, Math.max(1, recordSize));
    const message = create(ExportLogsServiceRequestSchema, {
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
              scope: { name: "sluice-bench" },
              logRecords: Array.from({ length: records }, (_, i) =>
                logRecord({
                  seq: i,
                  now,
                  uid: `${run}-${"0".repeat(UID_DIGITS)}`,
                  body,
                  event: "bench.tick",
                  seqAttr: false,
                }),
              ),
            },
          ],
        },
      ],
    });
    this.bytes =
      opts.encoding === "json"
        ? Buffer.from(toJsonString(ExportLogsServiceRequestSchema, message, { enumAsInteger: true }))
        : Buffer.from(toBinary(ExportLogsServiceRequestSchema, message));
    this.records = records;
    const offsets: number[] = [];
    const marker = Buffer.from(`${run}-`);
    for (let at = this.bytes.indexOf(marker); at >= 0; at = this.bytes.indexOf(marker, at + 1)) {
      offsets.push(at + marker.length);
    }
    if (offsets.length !== records) {
      throw new Error(
        `template holds ${offsets.length} ids for ${records} records (the run id occurs elsewhere)`,
      );
    }
    this.idOffsets = Int32Array.from(offsets);
  }

  /** A fresh copy whose record i carries seq first + i. */
  build(first: number): Buffer {
    if (!(Number.isSafeInteger(first) && first >= 0 && first + this.records - 1 <= MAX_TEMPLATE_SEQ)) {
      throw new Error(`seq range ${first}+${this.records} does not fit ${UID_DIGITS} digits`);
    }
    const out = Buffer.allocUnsafe(this.bytes.length);
    this.bytes.copy(out);
    for (let i = 0; i < this.records; i++) {
      let n = first + i;
      const end = (this.idOffsets[i] as number) + UID_DIGITS;
      for (let p = end - 1; p >= end - UID_DIGITS; p--) {
        out[p] = 48 + (n % 10);
        n = Math.floor(n / 10);
      }
    }
    return out;
  }
}
