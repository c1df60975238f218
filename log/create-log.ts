/** Builds the configured log backend. */
import { join } from "node:path";
import type { Config } from "../core/config/load-config.js";
import type { Logger } from "../core/logging/logger.js";
import { EmbeddedLog } from "./embedded/embedded-log.js";
import { KafkaLog } from "./kafka/kafka-log.js";
import type { LogWriter } from "./log.js";

export function embeddedLogPath(config: Config): string {
  return config.log.embedded.path ?? join(config.dataDir, "log", "log.db");
}

export function createLog(
  config: Config,
  logger: Logger,
  onHealthChange?: (healthy: boolean) => void,
): LogWriter {
  const { log } = config;
  if (log.backend === "kafka") {
    const k = log.kafka;
    return new KafkaLog({
      brokers: k.brokers,
      clientId: k.client_id,
      topics: [log.topics.logs, log.topics.events, log.topics.dead_letter],
      createTopics: k.create_topics,
      partitions: k.partitions,
      replicationFactor: k.replication_factor,
      compression: k.compression,
      connectionTimeoutMs: k.connection_timeout,
      requestTimeoutMs: k.request_timeout,
      maxBatchBytes: k.max_batch_bytes,
      logger: logger.child({ component: "kafka-log" }),
      onHealthChange,
    });
  }
  const e = log.embedded;
  return new EmbeddedLog({
    path: embeddedLogPath(config),
    partitions: e.partitions,
    retention: { maxAgeMs: e.retention.max_age ?? undefined, maxBytes: e.retention.max_bytes ?? undefined },
    retentionCheckIntervalMs: e.retention.check_interval,
  });
}
