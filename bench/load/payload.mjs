// Request bodies are built once, before the clock starts, so the generator
// spends its CPU on sending rather than on encoding.
import { fromJson, toBinary } from "@bufbuild/protobuf";
import { ExportLogsServiceRequestSchema } from "../../dist/proto/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js";

const FILLER = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ";

function bodyText(size, seed) {
  const prefix = `request ${seed} `;
  let s = prefix;
  while (s.length < size) s += FILLER;
  return s.slice(0, Math.max(size, 1));
}

/** One OTLP/JSON ExportLogsServiceRequest with `records` records for one service. */
export function requestJson({ service, records, recordSize, seed }) {
  const base = BigInt(Date.now()) * 1_000_000n;
  const logRecords = [];
  for (let i = 0; i < records; i++) {
    const t = (base + BigInt(i)).toString();
    logRecords.push({
      timeUnixNano: t,
      observedTimeUnixNano: t,
      severityNumber: 9,
      severityText: "INFO",
      body: { stringValue: bodyText(recordSize, `${seed}.${i}`) },
      attributes: [{ key: "bench.seq", value: { intValue: String(i) } }],
    });
  }
  return {
    resourceLogs: [
      {
        resource: {
          attributes: [
            { key: "service.name", value: { stringValue: service } },
            { key: "host.name", value: { stringValue: "bench-host" } },
          ],
        },
        scopeLogs: [{ scope: { name: "sluice-bench", version: "1" }, logRecords }],
      },
    ],
  };
}

/**
 * One pre-encoded body per distinct key, in the wire form the protocol needs:
 * protobuf for gRPC and http/protobuf, UTF-8 JSON for http/json.
 */
export function buildBodies({ protocol, keys, records, recordSize }) {
  const bodies = [];
  for (let k = 0; k < keys; k++) {
    const json = requestJson({ service: `bench-svc-${k}`, records, recordSize, seed: k });
    if (protocol === "http/json") {
      bodies.push(Buffer.from(JSON.stringify(json)));
    } else {
      const msg = fromJson(ExportLogsServiceRequestSchema, json);
      bodies.push(Buffer.from(toBinary(ExportLogsServiceRequestSchema, msg)));
    }
  }
  return bodies;
}
