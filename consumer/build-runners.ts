/**
 * Builds the consumer side from configuration: one SinkRunner per
 * (pipeline, exporter), each its own consumer group named
 * `sluice.<pipeline>.<exporter>`, with fresh processor instances so
 * per-partition state (the dedup window) belongs to that group alone.
 */
import type { Config } from "../core/config/load-config.js";
import type { ComponentDeps } from "../core/pipeline/component.js";
import type { RecordKind } from "../core/pipeline/record.js";
import { EmbeddedLog } from "../log/embedded/embedded-log.js";
import type { LogWriter } from "../log/log.js";
import { DeadLetterWriter } from "./dead-letter-writer.js";
import { EmbeddedLogSource } from "./embedded-source.js";
import { KafkaLogSource } from "./kafka-source.js";
import type { LogSource } from "./log-source.js";
import { SinkRunner } from "./sink-runner.js";

export function groupName(pipeline: string, exporter: string): string {
  return `sluice.${pipeline}.${exporter}`.replace(/\//g, "-");
}

export interface ConsumerGroupSpec {
  pipeline: string;
  exporter: string;
  group: string;
  topics: string[];
}

/** Every consumer group the configuration implies, in pipeline order. */
export function consumerGroups(config: Config): ConsumerGroupSpec[] {
  const topics = [config.log.topics.logs, config.log.topics.events];
  const out: ConsumerGroupSpec[] = [];
  for (const [pipeline, p] of Object.entries(config.pipelines)) {
    for (const exporter of p.exporters)
      out.push({ pipeline, exporter, group: groupName(pipeline, exporter), topics });
  }
  return out;
}

export function createSource(
  config: Config,
  log: LogWriter,
  spec: ConsumerGroupSpec,
  batch: { maxRecords: number; maxBytes: number; lingerMs: number },
  deps: ComponentDeps,
): LogSource {
  if (config.log.backend === "kafka") {
    return new KafkaLogSource({
      brokers: config.log.kafka.brokers,
      clientId: `${config.log.kafka.client_id}-${spec.group}`,
      group: spec.group,
      topics: spec.topics,
      maxBatchMessages: batch.maxRecords,
      maxBatchBytes: batch.maxBytes,
      lingerMs: batch.lingerMs,
      logger: deps.logger.child({ group: spec.group }),
    });
  }
  if (!(log instanceof EmbeddedLog)) throw new Error("the embedded backend needs an EmbeddedLog");
  return new EmbeddedLogSource(log, {
    group: spec.group,
    topics: spec.topics,
    maxBatchMessages: batch.maxRecords,
    maxBatchBytes: batch.maxBytes,
    lingerMs: batch.lingerMs,
    onError: (err) => deps.logger.error({ err, group: spec.group }, "batch failed; retrying"),
  });
}

export function buildRunners(config: Config, log: LogWriter, deps: ComponentDeps): SinkRunner[] {
  const deadLetters = new DeadLetterWriter(log, config.log.topics.dead_letter, deps.metrics);
  const topicKinds = new Map<string, RecordKind>([
    [config.log.topics.logs, "logs"],
    [config.log.topics.events, "events"],
  ]);
  const runners: SinkRunner[] = [];
  for (const spec of consumerGroups(config)) {
    const p = config.pipelines[spec.pipeline];
    const e = config.exporterInstances.get(spec.exporter);
    if (!p || !e) throw new Error(`pipeline ${spec.pipeline} refers to unknown exporter ${spec.exporter}`);
    const processors = p.processors.map((name) => {
      const instance = config.processorInstances.get(name);
      if (!instance) throw new Error(`pipeline ${spec.pipeline} refers to unknown processor ${name}`);
      return instance.factory.create(name, instance.config, deps);
    });
    runners.push(
      new SinkRunner({
        pipeline: spec.pipeline,
        exporter: e.factory.create(e.name, e.config, deps),
        processors,
        source: createSource(config, log, spec, e.batch, deps),
        deadLetters,
        topicKinds,
        reportsUndecodable: p.exporters[0] === spec.exporter,
        retry: e.retry,
        metrics: deps.metrics,
        logger: deps.logger.child({ pipeline: spec.pipeline, exporter: spec.exporter }),
      }),
    );
  }
  return runners;
}
