/**
 * Record and batch builders for the exporters' tests. Not used at run time.
 */
import { silentLogger } from "../../core/logging/logger.js";
import { Metrics } from "../../core/metrics.js";
import type { ComponentDeps, ExportBatch } from "../../core/pipeline/component.js";
import type { PipelineRecord, ResourceInfo, ScopeInfo } from "../../core/pipeline/record.js";

export function makeResource(overrides: Partial<ResourceInfo> = {}): ResourceInfo {
  return {
    attributes: { "service.name": "checkout", "host.name": "node-1" },
    droppedAttributesCount: 0,
    schemaUrl: "",
    ...overrides,
  };
}

export function makeScope(overrides: Partial<ScopeInfo> = {}): ScopeInfo {
  return {
    name: "app.logger",
    version: "1.2.3",
    attributes: {},
    droppedAttributesCount: 0,
    schemaUrl: "",
    ...overrides,
  };
}

/** 2024-05-01T12:34:56.123456789Z */
export const BASE_TIME_NS = 1_714_566_896_123_456_789n;

let counter = 0;

export function makeRecord(overrides: Partial<PipelineRecord> = {}): PipelineRecord {
  counter++;
  const offset = overrides.origin?.offset ?? BigInt(counter);
  return {
    eventId: counter.toString(16).padStart(32, "0"),
    kind: "logs",
    timeUnixNano: BASE_TIME_NS,
    observedTimeUnixNano: BASE_TIME_NS + 1_000_000n,
    severityNumber: 9,
    severityText: "INFO",
    body: `request ${counter} handled`,
    attributes: { "http.method": "GET" },
    droppedAttributesCount: 0,
    flags: 0,
    traceId: "",
    spanId: "",
    eventName: "",
    resource: makeResource(),
    scope: makeScope(),
    origin: {
      topic: "sluice.logs",
      partition: 0,
      offset,
      index: 0,
      receiveTimeUnixNano: BASE_TIME_NS + 2_000_000n,
      tenant: "",
    },
    routes: undefined,
    ...overrides,
  };
}

/**
 * `count` records at consecutive offsets from `firstOffset`, sharing one
 * resource and scope, with bodies of about `bodyBytes` bytes.
 */
export function makeRecords(
  count: number,
  opts: { firstOffset?: bigint; bodyBytes?: number; resource?: ResourceInfo; scope?: ScopeInfo } = {},
): PipelineRecord[] {
  const resource = opts.resource ?? makeResource();
  const scope = opts.scope ?? makeScope();
  const first = opts.firstOffset ?? 0n;
  const filler =
    opts.bodyBytes === undefined ? "" : " ".padEnd(opts.bodyBytes, "lorem ipsum dolor sit amet ");
  const out: PipelineRecord[] = [];
  for (let i = 0; i < count; i++) {
    const offset = first + BigInt(i);
    const base = makeRecord({ resource, scope });
    out.push({
      ...base,
      eventId: `${offset.toString(16).padStart(16, "0")}${i.toString(16).padStart(16, "0")}`,
      timeUnixNano: BASE_TIME_NS + BigInt(i) * 1_000n,
      body: `request ${offset} handled${filler}`,
      attributes: { "http.method": "GET", "http.status_code": 200n, "user.id": `u${i % 97}` },
      origin: { ...base.origin, offset },
    });
  }
  return out;
}

export function batchOf(records: PipelineRecord[], firstOffset?: bigint): ExportBatch {
  const offsets = records.map((r) => r.origin.offset).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const min = offsets[0] ?? 0n;
  const max = offsets[offsets.length - 1] ?? 0n;
  return {
    records,
    topic: records[0]?.origin.topic ?? "sluice.logs",
    partition: records[0]?.origin.partition ?? 0,
    firstOffset: firstOffset ?? min,
    lastOffset: max,
  };
}

/** A quiet ComponentDeps rooted at dataDir. */
export function testDeps(dataDir: string): ComponentDeps {
  return { logger: silentLogger, metrics: new Metrics({ processMetrics: false }), dataDir };
}
