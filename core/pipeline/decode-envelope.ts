/**
 * Decodes one log message (an Envelope) into pipeline records, computing
 * each record's event id.
 */
import { fromBinary } from "@bufbuild/protobuf";
import type { AnyValue, KeyValue } from "../../proto/gen/opentelemetry/proto/common/v1/common_pb.js";
import { EnvelopeSchema } from "../../proto/gen/sluice/log/v1/envelope_pb.js";
import { contextHash, eventIdFor } from "./event-id.js";
import type { Attributes, PipelineRecord, RecordKind, ResourceInfo, ScopeInfo, Value } from "./record.js";

export interface MessagePosition {
  topic: string;
  partition: number;
  offset: bigint;
}

export function anyValueToValue(v: AnyValue | undefined): Value {
  const value = v?.value;
  switch (value?.case) {
    case "stringValue":
    case "boolValue":
    case "intValue":
    case "doubleValue":
      return value.value;
    case "bytesValue":
      return value.value;
    case "arrayValue":
      return value.value.values.map(anyValueToValue);
    case "kvlistValue":
      return keyValuesToAttributes(value.value.values);
    default:
      return null;
  }
}

export function keyValuesToAttributes(kvs: KeyValue[]): Attributes {
  const out: Attributes = {};
  for (const kv of kvs) out[kv.key] = anyValueToValue(kv.value);
  return out;
}

function hex(b: Uint8Array): string {
  return b.length ? Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex") : "";
}

/** Throws when the bytes are not an Envelope (the caller dead-letters the message). */
export function decodeEnvelopeRecords(
  value: Uint8Array,
  at: MessagePosition,
  kind: RecordKind,
): PipelineRecord[] {
  const envelope = fromBinary(EnvelopeSchema, value);
  const rl = envelope.resourceLogs;
  const out: PipelineRecord[] = [];
  if (!rl) return out;
  const resource: ResourceInfo = {
    attributes: keyValuesToAttributes(rl.resource?.attributes ?? []),
    droppedAttributesCount: rl.resource?.droppedAttributesCount ?? 0,
    schemaUrl: rl.schemaUrl,
  };
  let index = 0;
  for (const sl of rl.scopeLogs) {
    const scope: ScopeInfo = {
      name: sl.scope?.name ?? "",
      version: sl.scope?.version ?? "",
      attributes: keyValuesToAttributes(sl.scope?.attributes ?? []),
      droppedAttributesCount: sl.scope?.droppedAttributesCount ?? 0,
      schemaUrl: sl.schemaUrl,
    };
    const ctxHash = contextHash(resource, scope);
    for (const lr of sl.logRecords) {
      const record: PipelineRecord = {
        eventId: "",
        kind: lr.eventName ? "events" : kind,
        timeUnixNano: lr.timeUnixNano,
        observedTimeUnixNano: lr.observedTimeUnixNano,
        severityNumber: lr.severityNumber,
        severityText: lr.severityText,
        body: anyValueToValue(lr.body),
        attributes: keyValuesToAttributes(lr.attributes),
        droppedAttributesCount: lr.droppedAttributesCount,
        flags: lr.flags,
        traceId: hex(lr.traceId),
        spanId: hex(lr.spanId),
        eventName: lr.eventName,
        resource,
        scope,
        origin: {
          topic: at.topic,
          partition: at.partition,
          offset: at.offset,
          index: index++,
          receiveTimeUnixNano: envelope.receiveTimeUnixNano,
          tenant: envelope.tenant,
        },
        routes: undefined,
      };
      record.eventId = eventIdFor(record, ctxHash);
      out.push(record);
    }
  }
  return out;
}
