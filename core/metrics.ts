/**
 * The gateway's own Prometheus metrics. One registry per process, so tests
 * that start several gateways in one process don't share counters. With
 * gateway workers, the primary serves every process's registry merged by
 * each metric's aggregator (a sum unless the metric says otherwise).
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export class Metrics {
  readonly registry = new Registry();

  readonly acceptedRecords = new Counter({
    name: "sluice_receiver_accepted_log_records_total",
    help: "Log records made durable in the log and acknowledged to the client.",
    labelNames: ["receiver"] as const,
    registers: [this.registry],
  });

  readonly refusedRecords = new Counter({
    name: "sluice_receiver_refused_log_records_total",
    help: "Log records refused, by reason (rejected individually, or in a refused request that could be decoded).",
    labelNames: ["receiver", "reason"] as const,
    registers: [this.registry],
  });

  readonly refusedRequests = new Counter({
    name: "sluice_receiver_refused_requests_total",
    help: "Requests refused, by reason; counts requests whose records could not be counted too.",
    labelNames: ["receiver", "reason"] as const,
    registers: [this.registry],
  });

  readonly acceptedBytes = new Counter({
    name: "sluice_receiver_accepted_bytes_total",
    help: "Uncompressed request bytes of acknowledged requests.",
    labelNames: ["receiver"] as const,
    registers: [this.registry],
  });

  readonly inflightBytes = new Gauge({
    name: "sluice_receiver_inflight_bytes",
    help: "Request bytes held by the gateway between receipt and the log's durable append.",
    registers: [this.registry],
  });

  readonly appendLatency = new Histogram({
    name: "sluice_log_append_duration_seconds",
    help: "Time from handing records to the log until they are durable.",
    labelNames: ["backend"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly logHealthy = new Gauge({
    name: "sluice_log_healthy",
    help: "1 while the log backend takes appends, 0 while it is failing.",
    labelNames: ["backend"] as const,
    // Summed over gateway worker processes this would count writers; 1 means every writer takes appends.
    aggregator: "min",
    registers: [this.registry],
  });

  readonly deadLettered = new Counter({
    name: "sluice_dead_lettered_records_total",
    help: "Records written to the dead-letter topic, by the stage that gave up on them and the reason.",
    labelNames: ["stage", "reason"] as const,
    registers: [this.registry],
  });

  readonly exporterRecords = new Counter({
    name: "sluice_exporter_records_total",
    help: "Records handed to an exporter, by outcome: written durably, or dead-lettered after a permanent refusal.",
    labelNames: ["exporter", "outcome"] as const,
    registers: [this.registry],
  });

  readonly exporterRetries = new Counter({
    name: "sluice_exporter_retries_total",
    help: "Retryable failures of an exporter (or of dead-lettering), each followed by a backoff and a retry.",
    labelNames: ["exporter"] as const,
    registers: [this.registry],
  });

  readonly consumerLag = new Gauge({
    name: "sluice_consumer_lag",
    help: "Messages in the log not yet processed by a consumer group (end offset minus committed offset).",
    labelNames: ["group", "topic", "partition"] as const,
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: "sluice_" });
  }
}
