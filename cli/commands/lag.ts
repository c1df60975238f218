/** `sluice lag`: committed position, end and lag of every consumer group the config implies. */
import { EmbeddedLogSource } from "../../consumer/embedded-source.js";
import type { PartitionLag } from "../../consumer/log-source.js";
import type { Config } from "../../core/config/load-config.js";
import { embeddedLogPath } from "../../log/create-log.js";
import { EmbeddedLog } from "../../log/embedded/embedded-log.js";

export async function collectLag(config: Config): Promise<PartitionLag[]> {
  // Imported on use: every other command, the gateway included, runs without the consumers or kafkajs.
  const { consumerGroups } = await import("../../consumer/build-runners.js");
  const groups = consumerGroups(config);
  if (config.log.backend === "kafka") {
    const { Kafka, logLevel } = await import("kafkajs");
    const { kafkaGroupLag } = await import("../../consumer/kafka-source.js");
    const kafka = new Kafka({
      brokers: config.log.kafka.brokers,
      clientId: "sluice-lag",
      logLevel: logLevel.NOTHING,
    });
    return (await Promise.all(groups.map((g) => kafkaGroupLag(kafka, g.group, g.topics)))).flat();
  }
  const log = new EmbeddedLog({
    path: embeddedLogPath(config),
    partitions: config.log.embedded.partitions,
    retention: { maxAgeMs: undefined, maxBytes: undefined },
  });
  await log.start();
  try {
    const out: PartitionLag[] = [];
    for (const g of groups) {
      const source = new EmbeddedLogSource(log, {
        group: g.group,
        topics: g.topics,
        maxBatchMessages: 1,
        lingerMs: 0,
      });
      out.push(...(await source.lag()));
    }
    return out;
  } finally {
    await log.shutdown();
  }
}

export function formatLag(rows: PartitionLag[]): string {
  const header = ["GROUP", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG"];
  const lines = rows.map((r) => [
    r.group,
    r.topic,
    String(r.partition),
    String(r.committed),
    String(r.end),
    String(r.lag),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const fmt = (cols: string[]) =>
    cols
      .map((c, i) => c.padEnd(widths[i] as number))
      .join("  ")
      .trimEnd();
  const total = rows.reduce((sum, r) => sum + r.lag, 0n);
  return [fmt(header), ...lines.map(fmt), "", `total lag: ${total}`].join("\n");
}
