/**
 * Record and dependency builders for the processors' unit tests. Kept free
 * of test-framework imports so it compiles with the rest of the package.
 */
import type { Logger } from "../../core/logging/logger.js";
import { silentLogger } from "../../core/logging/logger.js";
import { Metrics } from "../../core/metrics.js";
import type { ComponentDeps } from "../../core/pipeline/component.js";
import type { PipelineRecord, ResourceInfo } from "../../core/pipeline/record.js";

let nextId = 0;

export function testResource(attributes: ResourceInfo["attributes"] = {}): ResourceInfo {
  return { attributes, droppedAttributesCount: 0, schemaUrl: "" };
}

export function testRecord(fields: Partial<PipelineRecord> = {}): PipelineRecord {
  nextId++;
  return {
    eventId: nextId.toString(16).padStart(32, "0"),
    kind: "logs",
    timeUnixNano: 0n,
    observedTimeUnixNano: 0n,
    severityNumber: 0,
    severityText: "",
    body: null,
    attributes: {},
    droppedAttributesCount: 0,
    flags: 0,
    traceId: "",
    spanId: "",
    eventName: "",
    resource: testResource(),
    scope: { name: "", version: "", attributes: {}, droppedAttributesCount: 0, schemaUrl: "" },
    origin: { topic: "sluice.logs", partition: 0, offset: 0n, index: 0, receiveTimeUnixNano: 0n, tenant: "" },
    routes: undefined,
    ...fields,
  };
}

export function testDeps(logger: Logger = silentLogger): ComponentDeps {
  return { logger, metrics: new Metrics({ processMetrics: false }), dataDir: "/nonexistent-data-dir" };
}

export const CTX = { topic: "sluice.logs", partition: 0 };

/** Current value of a counter series, 0 when the series does not exist yet. */
export async function counterValue(
  deps: ComponentDeps,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = deps.metrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want));
  return hit ? hit.value : 0;
}
