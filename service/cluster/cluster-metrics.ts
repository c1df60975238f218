/**
 * /metrics of a multi-process gateway: the primary's own registry (process
 * metrics, and the consumers' when it runs the processor role) merged with
 * every worker's, each metric by its prom-client aggregator. Counters and
 * histograms add up; sluice_log_healthy takes the minimum.
 */
import { AggregatorRegistry, type Registry } from "prom-client";
import type { MetricsSource } from "../../gateway/admin/admin-server.js";
import type { MetricsJson } from "./messages.js";

export interface WorkerMetrics {
  collectMetrics(): Promise<MetricsJson[]>;
}

export class ClusterMetrics implements MetricsSource {
  constructor(
    private readonly own: Registry,
    private readonly workers: WorkerMetrics,
  ) {}

  get contentType(): string {
    return this.own.contentType;
  }

  async metrics(): Promise<string> {
    const [own, workers] = await Promise.all([this.own.getMetricsAsJSON(), this.workers.collectMetrics()]);
    return mergeMetrics([own, ...workers]).metrics();
  }
}

export function mergeMetrics(registries: MetricsJson[]): Registry {
  return AggregatorRegistry.aggregate(registries);
}
