/** Builds OTLP requests whose records carry unique sequence numbers, and reads them back. */
import { create, toBinary } from "@bufbuild/protobuf";
import type { StoredMessage } from "../../log/log.js";
import { ExportLogsServiceRequestSchema } from "../../proto/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js";
import { kvToJs } from "./otlp-values.js";
import { decodeEnvelope } from "./read-log.js";

export function seqRequest(service: string, firstSeq: number, count: number): Uint8Array {
  return toBinary(
    ExportLogsServiceRequestSchema,
    create(ExportLogsServiceRequestSchema, {
      resourceLogs: [
        {
          resource: {
            attributes: [{ key: "service.name", value: { value: { case: "stringValue", value: service } } }],
          },
          scopeLogs: [
            {
              logRecords: Array.from({ length: count }, (_, i) => ({
                timeUnixNano: BigInt(Date.now()) * 1_000_000n,
                body: { value: { case: "stringValue" as const, value: `record ${firstSeq + i}` } },
                attributes: [
                  {
                    key: "seq",
                    value: { value: { case: "intValue" as const, value: BigInt(firstSeq + i) } },
                  },
                ],
              })),
            },
          ],
        },
      ],
    }),
  );
}

/** How many times each seq appears in the messages. */
export function seqCounts(messages: StoredMessage[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const m of messages) {
    const rl = decodeEnvelope(m).envelope.resourceLogs;
    for (const sl of rl?.scopeLogs ?? []) {
      for (const r of sl.logRecords) {
        const seq = Number(kvToJs(r.attributes).seq);
        counts.set(seq, (counts.get(seq) ?? 0) + 1);
      }
    }
  }
  return counts;
}
