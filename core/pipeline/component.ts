/**
 * The small interfaces every pipeline component implements, and the
 * factories that build them from configuration, registered by type name
 * (the part of the config key before "/", as in the Collector).
 */
import type { z } from "zod";
import type { Logger } from "../logging/logger.js";
import type { Metrics } from "../metrics.js";
import type { PipelineRecord } from "./record.js";

/** What a component gets from the process it runs in. */
export interface ComponentDeps {
  logger: Logger;
  metrics: Metrics;
  /** Absolute data directory (embedded stores and lookup files live under it by default). */
  dataDir: string;
}

/** Per-batch context: which log partition the records come from. */
export interface BatchContext {
  topic: string;
  partition: number;
}

export interface Processor {
  readonly name: string;
  start?(): Promise<void>;
  /**
   * Transforms a batch of records from one partition, in order. Returns the
   * records to pass on (the same array, filtered or changed, is fine).
   * Must not throw for a bad record: leave it as it is instead.
   */
  process(records: PipelineRecord[], ctx: BatchContext): PipelineRecord[];
  shutdown?(): Promise<void>;
}

/** A batch handed to an exporter: records of one partition, in offset order. */
export interface ExportBatch {
  records: PipelineRecord[];
  topic: string;
  partition: number;
  /** Offsets of the first and last log messages the batch was built from (for deterministic ids). */
  firstOffset: bigint;
  lastOffset: bigint;
}

/** A record the sink refused permanently, for that record alone. */
export interface RecordFailure {
  record: PipelineRecord;
  /** Stable reason code, e.g. SINK_MAPPING_CONFLICT. */
  code: string;
  reason: string;
}

export interface ExportResult {
  /** Records refused permanently; everything else in the batch is durably written. */
  failed: RecordFailure[];
}

export interface Exporter {
  readonly name: string;
  start(): Promise<void>;
  /**
   * Durably writes the batch, idempotently: writing the same records again
   * (same eventIds, same batch offsets) leaves one copy. Resolves once they
   * are durable. Throws a retryable SluiceError when the whole batch should
   * be tried again later (sink down, timeout), a non-retryable one when the
   * batch can never succeed.
   */
  write(batch: ExportBatch): Promise<ExportResult>;
  shutdown(): Promise<void>;
}

export interface ProcessorFactory<S extends z.ZodType = z.ZodType> {
  type: string;
  configSchema: S;
  create(name: string, config: z.output<S>, deps: ComponentDeps): Processor;
}

export interface ExporterFactory<S extends z.ZodType = z.ZodType> {
  type: string;
  configSchema: S;
  create(name: string, config: z.output<S>, deps: ComponentDeps): Exporter;
}
