/**
 * Real OpenTelemetry JS SDK records and exporters. Records are produced by
 * the SDK's own LoggerProvider, then handed to the real OTLP exporter of the
 * chosen protocol; the export result is what the SDK itself would see.
 */
import { context, TraceFlags, trace } from "@opentelemetry/api";
import { SeverityNumber } from "@opentelemetry/api-logs";
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import { OTLPLogExporter as GrpcExporter } from "@opentelemetry/exporter-logs-otlp-grpc";
import { OTLPLogExporter as JsonExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { OTLPLogExporter as ProtoExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  InMemoryLogRecordExporter,
  LoggerProvider,
  type LogRecordExporter,
  type ReadableLogRecord,
  SimpleLogRecordProcessor,
} from "@opentelemetry/sdk-logs";

export type SdkProtocol = "grpc" | "http/protobuf" | "http/json";
export const SDK_PROTOCOLS: SdkProtocol[] = ["grpc", "http/protobuf", "http/json"];

export interface ExporterTarget {
  grpc: string;
  http: string;
}

export function createExporter(
  protocol: SdkProtocol,
  target: ExporterTarget,
  gzip = false,
): LogRecordExporter {
  const compression = (gzip ? "gzip" : "none") as never;
  switch (protocol) {
    case "grpc":
      return new GrpcExporter({ url: `http://${target.grpc}`, compression });
    case "http/protobuf":
      return new ProtoExporter({ url: `${target.http}/v1/logs`, compression });
    case "http/json":
      return new JsonExporter({ url: `${target.http}/v1/logs`, compression });
  }
}

export function exportRecords(
  exporter: LogRecordExporter,
  records: ReadableLogRecord[],
): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export(records, resolve));
}

export function isSuccess(r: ExportResult): boolean {
  return r.code === ExportResultCode.SUCCESS;
}

const SEVERITIES: [SeverityNumber, string][] = [
  [SeverityNumber.INFO, "INFO"],
  [SeverityNumber.ERROR, "ERROR"],
  [SeverityNumber.WARN, "WARN"],
  [SeverityNumber.DEBUG, "DEBUG"],
];

export const TRACE_ID = "5b8efff798038103d269b633813fc60c";
export const SPAN_ID = "eee19b7ec3c1b174";

/**
 * n records from the SDK for one service, covering every attribute value
 * type, trace context, severity, timestamps, and (every third record) an
 * event name. Each carries test.seq so it can be found again.
 */
export async function sdkRecords(serviceName: string, n: number, firstSeq = 0): Promise<ReadableLogRecord[]> {
  const memory = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({
      "service.name": serviceName,
      "service.version": "1.2.3",
      "deployment.environment.name": "test",
      "host.cpu.count": 2,
    }),
    processors: [new SimpleLogRecordProcessor({ exporter: memory })],
  });
  const logger = provider.getLogger("sluice-test-scope", "0.9.0");
  const spanContext = { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED };
  const ctx = trace.setSpanContext(context.active(), spanContext);
  for (let i = 0; i < n; i++) {
    const seq = firstSeq + i;
    const isEvent = seq % 3 === 2;
    logger.emit({
      timestamp: [1_700_000_000 + seq, 123_456_789],
      observedTimestamp: [1_700_000_100 + seq, 987_654_321],
      severityNumber: SEVERITIES[seq % SEVERITIES.length]?.[0],
      severityText: SEVERITIES[seq % SEVERITIES.length]?.[1],
      body: isEvent
        ? { order: { id: `o-${seq}`, total: 12.5, items: [1, 2, 3] } }
        : `message ${seq} héllo 🌍`,
      eventName: isEvent ? "shop.order.placed" : undefined,
      context: ctx,
      attributes: {
        "test.seq": seq,
        "attr.string": "value",
        "attr.bool": true,
        "attr.int": -42,
        "attr.double": 3.25,
        "attr.array": ["a", "b"],
        "attr.map": { nested: { deeper: "yes" }, n: 7 },
        "attr.bytes": new Uint8Array([0, 1, 254, 255]),
      },
    });
  }
  await provider.forceFlush();
  const records = memory.getFinishedLogRecords();
  await provider.shutdown();
  return records;
}
