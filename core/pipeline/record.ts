/**
 * The record model processors and exporters work on: one OTLP log record
 * with its resource and scope, decoded from an envelope in the log.
 *
 * Values keep OTLP's types: an int is a bigint, a double a number, bytes a
 * Uint8Array, an array an array, a kvlist a plain object; an empty AnyValue
 * is null. Resource and scope objects are shared by all records of one
 * envelope, so a processor changes them only with changes that are the same
 * for every record of that resource (enrich does; nothing else touches them).
 */

export type Value =
  | string
  | boolean
  | number
  | bigint
  | Uint8Array
  | null
  | Value[]
  | { [key: string]: Value };

export type Attributes = Record<string, Value>;

export type RecordKind = "logs" | "events";

export interface ResourceInfo {
  attributes: Attributes;
  droppedAttributesCount: number;
  schemaUrl: string;
}

export interface ScopeInfo {
  name: string;
  version: string;
  attributes: Attributes;
  droppedAttributesCount: number;
  schemaUrl: string;
}

/** Where a record sits in the log. */
export interface RecordOrigin {
  topic: string;
  partition: number;
  offset: bigint;
  /** Position of the record inside its envelope, for stable ordering. */
  index: number;
  receiveTimeUnixNano: bigint;
  tenant: string;
}

export interface PipelineRecord {
  /** Stable id (32 lowercase hex chars, or the producer's log.record.uid); sinks dedup on it. */
  eventId: string;
  kind: RecordKind;
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  severityNumber: number;
  severityText: string;
  body: Value;
  attributes: Attributes;
  droppedAttributesCount: number;
  flags: number;
  /** Lowercase hex, or "" when absent. */
  traceId: string;
  spanId: string;
  eventName: string;
  resource: ResourceInfo;
  scope: ScopeInfo;
  origin: RecordOrigin;
  /**
   * Names of the exporters this record goes to; undefined means every
   * exporter of the pipeline. Set by the route processor.
   */
  routes: string[] | undefined;
}

/** service.name of the record's resource, or "" (used for keys, indices and columns). */
export function serviceName(r: PipelineRecord): string {
  const v = r.resource.attributes["service.name"];
  return typeof v === "string" ? v : v === undefined || v === null ? "" : String(v);
}
