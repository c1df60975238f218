/**
 * Writes what a consumer cannot deliver to the dead-letter topic, with the
 * reason, so nothing leaves the pipeline silently. Undecodable messages go
 * as their raw bytes; records a sink refused go as an Envelope holding just
 * that record.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import type { Metrics } from "../core/metrics.js";
import type { PipelineRecord, Value } from "../core/pipeline/record.js";
import type { LogWriter } from "../log/log.js";
import {
  type AnyValue,
  AnyValueSchema,
  type KeyValue,
  KeyValueSchema,
} from "../proto/gen/opentelemetry/proto/common/v1/common_pb.js";
import { DeadLetterSchema, EnvelopeSchema } from "../proto/gen/sluice/log/v1/envelope_pb.js";
import type { SourceMessage } from "./log-source.js";

export function valueToAnyValue(v: Value): AnyValue {
  if (v === null || v === undefined) return create(AnyValueSchema);
  switch (typeof v) {
    case "string":
      return create(AnyValueSchema, { value: { case: "stringValue", value: v } });
    case "boolean":
      return create(AnyValueSchema, { value: { case: "boolValue", value: v } });
    case "bigint":
      return create(AnyValueSchema, { value: { case: "intValue", value: v } });
    case "number":
      return create(AnyValueSchema, { value: { case: "doubleValue", value: v } });
  }
  if (v instanceof Uint8Array) return create(AnyValueSchema, { value: { case: "bytesValue", value: v } });
  if (Array.isArray(v)) {
    return create(AnyValueSchema, {
      value: { case: "arrayValue", value: { values: v.map(valueToAnyValue) } },
    });
  }
  return create(AnyValueSchema, {
    value: { case: "kvlistValue", value: { values: attributesToKeyValues(v) } },
  });
}

export function attributesToKeyValues(attrs: Record<string, Value>): KeyValue[] {
  return Object.entries(attrs).map(([key, value]) =>
    create(KeyValueSchema, { key, value: valueToAnyValue(value) }),
  );
}

/** One record back as an encoded Envelope (for dead letters and tests). */
export function recordToEnvelope(r: PipelineRecord): Uint8Array {
  return toBinary(
    EnvelopeSchema,
    create(EnvelopeSchema, {
      receiveTimeUnixNano: r.origin.receiveTimeUnixNano,
      tenant: r.origin.tenant,
      resourceLogs: {
        resource: {
          attributes: attributesToKeyValues(r.resource.attributes),
          droppedAttributesCount: r.resource.droppedAttributesCount,
        },
        schemaUrl: r.resource.schemaUrl,
        scopeLogs: [
          {
            scope: {
              name: r.scope.name,
              version: r.scope.version,
              attributes: attributesToKeyValues(r.scope.attributes),
              droppedAttributesCount: r.scope.droppedAttributesCount,
            },
            schemaUrl: r.scope.schemaUrl,
            logRecords: [
              {
                timeUnixNano: r.timeUnixNano,
                observedTimeUnixNano: r.observedTimeUnixNano,
                severityNumber: r.severityNumber,
                severityText: r.severityText,
                body: valueToAnyValue(r.body),
                attributes: attributesToKeyValues(r.attributes),
                droppedAttributesCount: r.droppedAttributesCount,
                flags: r.flags,
                traceId: Buffer.from(r.traceId, "hex"),
                spanId: Buffer.from(r.spanId, "hex"),
                eventName: r.eventName,
              },
            ],
          },
        ],
      },
    }),
  );
}

export class DeadLetterWriter {
  constructor(
    private readonly log: LogWriter,
    private readonly topic: string,
    private readonly metrics: Metrics,
  ) {}

  async undecodable(stage: string, message: SourceMessage, reason: string): Promise<void> {
    await this.write(stage, "UNDECODABLE_MESSAGE", reason, message, message.value, 1);
  }

  async records(
    stage: string,
    failures: { record: PipelineRecord; code: string; reason: string }[],
  ): Promise<void> {
    if (failures.length === 0) return;
    const messages = failures.map((f) => ({
      key: Buffer.from(String(f.record.resource.attributes["service.name"] ?? ""), "utf8"),
      value: this.encode(stage, f.code, f.reason, f.record.origin, recordToEnvelope(f.record)),
    }));
    await this.log.append(this.topic, messages);
    for (const f of failures) this.metrics.deadLettered.inc({ stage, reason: f.code });
  }

  private async write(
    stage: string,
    code: string,
    reason: string,
    at: { topic: string; partition: number; offset: bigint },
    payload: Uint8Array,
    count: number,
  ): Promise<void> {
    await this.log.append(this.topic, [
      { key: new Uint8Array(0), value: this.encode(stage, code, reason, at, payload) },
    ]);
    this.metrics.deadLettered.inc({ stage, reason: code }, count);
  }

  private encode(
    stage: string,
    code: string,
    reason: string,
    at: { topic: string; partition: number; offset: bigint },
    payload: Uint8Array,
  ): Uint8Array {
    return toBinary(
      DeadLetterSchema,
      create(DeadLetterSchema, {
        reasonCode: code,
        reason,
        stage,
        timeUnixNano: BigInt(Date.now()) * 1_000_000n,
        sourceTopic: at.topic,
        sourcePartition: at.partition,
        sourceOffset: at.offset,
        payload,
      }),
    );
  }
}
