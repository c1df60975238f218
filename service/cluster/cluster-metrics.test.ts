import { describe, expect, it } from "vitest";
import { Metrics } from "../../core/metrics.js";
import { ClusterMetrics } from "./cluster-metrics.js";

describe("metrics of a multi-process gateway", () => {
  it("sums the workers' counters and histograms, and takes the lowest log health", async () => {
    const primary = new Metrics({ processMetrics: false });
    primary.consumerLag.set({ group: "g", topic: "t", partition: "0" }, 7);
    const workers = [new Metrics({ processMetrics: false }), new Metrics({ processMetrics: false })];
    const [a, b] = workers as [Metrics, Metrics];
    a.acceptedRecords.inc({ receiver: "otlp" }, 10);
    b.acceptedRecords.inc({ receiver: "otlp" }, 5);
    b.acceptedRecords.inc({ receiver: "otlp/2" }, 1);
    a.appendLatency.observe({ backend: "kafka" }, 0.002);
    b.appendLatency.observe({ backend: "kafka" }, 0.2);
    a.inflightBytes.set(100);
    b.inflightBytes.set(50);
    a.logHealthy.set({ backend: "kafka" }, 1);
    b.logHealthy.set({ backend: "kafka" }, 0);

    const merged = new ClusterMetrics(primary.registry, {
      collectMetrics: () => Promise.all(workers.map((w) => w.registry.getMetricsAsJSON())),
    });
    const text = await merged.metrics();
    expect(merged.contentType).toMatch(/^text\/plain/);
    expect(text).toMatch(/^sluice_receiver_accepted_log_records_total\{receiver="otlp"\} 15$/m);
    expect(text).toMatch(/^sluice_receiver_accepted_log_records_total\{receiver="otlp\/2"\} 1$/m);
    expect(text).toMatch(/^sluice_log_append_duration_seconds_count\{backend="kafka"\} 2$/m);
    expect(text).toMatch(/^sluice_log_append_duration_seconds_bucket\{le="0.005",backend="kafka"\} 1$/m);
    expect(text).toMatch(/^sluice_receiver_inflight_bytes 150$/m);
    expect(text).toMatch(/^sluice_log_healthy\{backend="kafka"\} 0$/m);
    expect(text).toMatch(/^sluice_consumer_lag\{group="g",topic="t",partition="0"\} 7$/m);
  });

  it("serves the primary's own metrics when no worker answers", async () => {
    const primary = new Metrics({ processMetrics: false });
    primary.exporterRecords.inc({ exporter: "s3", outcome: "written" }, 3);
    const text = await new ClusterMetrics(primary.registry, { collectMetrics: async () => [] }).metrics();
    expect(text).toMatch(/^sluice_exporter_records_total\{exporter="s3",outcome="written"\} 3$/m);
  });
});
