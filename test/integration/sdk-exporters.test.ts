/**
 * The OpenTelemetry JS SDK's own exporters (grpc, http/protobuf, http/json)
 * send to a real gateway; every record is read back from the log (real Kafka,
 * and the embedded log) with every field intact, keyed by service.name, plain
 * logs and events on their own topics.
 */

import { create, toBinary } from "@bufbuild/protobuf";
import type { ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { embeddedLogPath } from "../../log/create-log.js";
import type { StoredMessage } from "../../log/log.js";
import { ExportLogsServiceRequestSchema } from "../../proto/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js";
import type { LogRecord } from "../../proto/gen/opentelemetry/proto/logs/v1/logs_pb.js";
import { SourceProtocol } from "../../proto/gen/sluice/log/v1/envelope_pb.js";
import { startGateway, type TestGateway } from "../support/gateway.js";
import { anyToJs, hex, hrTimeToNanos, kvToJs } from "../support/otlp-values.js";
import { decodeEnvelope, readEmbedded, readKafka } from "../support/read-log.js";
import {
  createExporter,
  exportRecords,
  isSuccess,
  SDK_PROTOCOLS,
  type SdkProtocol,
  SPAN_ID,
  sdkRecords,
  TRACE_ID,
} from "../support/sdk.js";

const RECORDS_PER_PROTOCOL = 30;

const SOURCE: Record<SdkProtocol, SourceProtocol> = {
  grpc: SourceProtocol.OTLP_GRPC,
  "http/protobuf": SourceProtocol.OTLP_HTTP_PROTOBUF,
  "http/json": SourceProtocol.OTLP_HTTP_JSON,
};

interface Found {
  key: string;
  topic: string;
  source: SourceProtocol;
  resource: Record<string, unknown>;
  scope: { name: string; version: string };
  record: LogRecord;
}

function index(messages: StoredMessage[]): Map<string, Found> {
  const out = new Map<string, Found>();
  for (const m of messages) {
    const { key, envelope } = decodeEnvelope(m);
    const rl = envelope.resourceLogs;
    if (!rl) throw new Error("envelope without resource_logs");
    const resource = kvToJs(rl.resource?.attributes ?? []);
    for (const sl of rl.scopeLogs) {
      for (const record of sl.logRecords) {
        const attrs = kvToJs(record.attributes);
        const id = `${resource["service.name"]}#${attrs["test.seq"]}`;
        if (out.has(id)) throw new Error(`record ${id} found twice`);
        out.set(id, {
          key,
          topic: m.topic,
          source: envelope.sourceProtocol,
          resource,
          scope: { name: sl.scope?.name ?? "", version: sl.scope?.version ?? "" },
          record,
        });
      }
    }
  }
  return out;
}

function expectIntact(
  sent: ReadableLogRecord,
  found: Found | undefined,
  protocol: SdkProtocol,
  topics: { logs: string; events: string },
) {
  expect(found, `record ${String(sent.attributes["test.seq"])} over ${protocol}`).toBeDefined();
  const f = found as Found;
  const r = f.record;
  expect(f.key).toBe(sent.resource.attributes["service.name"]);
  expect(f.source).toBe(SOURCE[protocol]);
  expect(f.topic).toBe(sent.eventName ? topics.events : topics.logs);
  expect(f.resource).toEqual(sent.resource.attributes);
  expect(f.scope).toEqual({ name: "sluice-test-scope", version: "0.9.0" });
  expect(r.timeUnixNano).toBe(hrTimeToNanos(sent.hrTime));
  expect(r.observedTimeUnixNano).toBe(hrTimeToNanos(sent.hrTimeObserved));
  expect(r.severityNumber).toBe(sent.severityNumber);
  expect(r.severityText).toBe(sent.severityText);
  expect(r.eventName).toBe(sent.eventName ?? "");
  expect(hex(r.traceId)).toBe(TRACE_ID);
  expect(hex(r.spanId)).toBe(SPAN_ID);
  expect(r.flags & 0xff).toBe(1);
  expect(anyToJs(r.body)).toEqual(sent.body);
  expect(kvToJs(r.attributes)).toEqual(sent.attributes);
}

async function sendAll(gw: TestGateway): Promise<Map<SdkProtocol, ReadableLogRecord[]>> {
  const sent = new Map<SdkProtocol, ReadableLogRecord[]>();
  for (const [i, protocol] of SDK_PROTOCOLS.entries()) {
    const records = await sdkRecords(`svc-${protocol.replace("/", "-")}`, RECORDS_PER_PROTOCOL);
    // gzip on every other protocol, so both encodings are exercised.
    const exporter = createExporter(protocol, gw, i % 2 === 0);
    const half = Math.floor(records.length / 2);
    for (const batch of [records.slice(0, half), records.slice(half)]) {
      const result = await exportRecords(exporter, batch);
      expect(isSuccess(result), `${protocol}: ${result.error?.message}`).toBe(true);
    }
    await exporter.shutdown();
    sent.set(protocol, records);
  }
  return sent;
}

function verify(
  sent: Map<SdkProtocol, ReadableLogRecord[]>,
  messages: StoredMessage[],
  topics: { logs: string; events: string },
) {
  const found = index(messages);
  let total = 0;
  for (const [protocol, records] of sent) {
    for (const rec of records) {
      expectIntact(
        rec,
        found.get(`${rec.resource.attributes["service.name"]}#${rec.attributes["test.seq"]}`),
        protocol,
        topics,
      );
      total++;
    }
  }
  expect(found.size).toBe(total);
}

describe("SDK exporters → gateway → embedded log", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(async () => gw?.stop());

  it("every record reads back intact from the embedded log", async () => {
    const sent = await sendAll(gw);
    const path = embeddedLogPath(gw.config);
    const topics = { logs: gw.config.log.topics.logs, events: gw.config.log.topics.events };
    const messages = [
      ...(await readEmbedded(path, topics.logs)),
      ...(await readEmbedded(path, topics.events)),
    ];
    verify(sent, messages, topics);
  });
});

describe("SDK exporters → gateway → Kafka", () => {
  let gw: TestGateway;
  const topics = { logs: `sdk-logs-${Date.now()}`, events: `sdk-events-${Date.now()}` };
  beforeAll(async () => {
    gw = await startGateway({
      log: {
        backend: "kafka",
        kafka: { brokers: [inject("kafkaBootstrap")], partitions: 3 },
        topics: { ...topics, dead_letter: `sdk-dlq-${Date.now()}` },
      },
    });
  });
  afterAll(async () => gw?.stop());

  it("every record reads back intact from Kafka, keyed by service.name", async () => {
    const sent = await sendAll(gw);
    const bootstrap = inject("kafkaBootstrap");
    const messages = [
      ...(await readKafka(bootstrap, topics.logs)),
      ...(await readKafka(bootstrap, topics.events)),
    ];
    verify(sent, messages, topics);
    // Same key, same partition: each service's envelopes sit in one partition per topic.
    const partitions = new Map<string, Set<number>>();
    for (const m of messages) {
      const id = `${m.topic}/${Buffer.from(m.key).toString()}`;
      partitions.set(id, (partitions.get(id) ?? new Set()).add(m.partition));
    }
    for (const [id, set] of partitions) expect(set.size, id).toBe(1);
  });

  it("takes a request larger than one Kafka message, and refuses a single ResourceLogs over the limit with 413", async () => {
    const body = (service: string, resources: number, records: number) =>
      Buffer.from(
        toBinary(
          ExportLogsServiceRequestSchema,
          create(ExportLogsServiceRequestSchema, {
            resourceLogs: Array.from({ length: resources }, () => ({
              resource: {
                attributes: [
                  { key: "service.name", value: { value: { case: "stringValue" as const, value: service } } },
                ],
              },
              scopeLogs: [
                {
                  logRecords: Array.from({ length: records }, (_, i) => ({
                    body: { value: { case: "stringValue" as const, value: `${i} ${"x".repeat(1000)}` } },
                  })),
                },
              ],
            })),
          }),
        ),
      );
    const post = (b: Buffer) =>
      fetch(`${gw.http}/v1/logs`, {
        method: "POST",
        body: b,
        headers: { "content-type": "application/x-protobuf" },
      });
    // 30 resources of ~100 KB for one key: about 3 MB for one partition, over the broker's 1 MiB.
    const big = await post(body("big-request", 30, 100));
    expect(big.status).toBe(200);
    const stored = (await readKafka(inject("kafkaBootstrap"), topics.logs)).filter(
      (m) => Buffer.from(m.key).toString() === "big-request",
    );
    expect(stored).toHaveLength(30);
    const tooBig = await post(body("too-big", 1, 1200));
    expect(tooBig.status).toBe(413);
    expect(await post(body("after", 1, 1))).toMatchObject({ status: 200 });
  });
});
