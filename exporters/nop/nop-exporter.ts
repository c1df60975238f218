/**
 * The nop exporter: accepts every batch and discards it, like the
 * OpenTelemetry Collector's nop exporter. Its consumer group still reads
 * the log, decodes, runs the pipeline's processors and commits; only the
 * sink write is missing. Useful to drain or fast-forward a pipeline on
 * purpose, to check a pipeline's processors without a sink, and as the
 * baseline of the pipeline benchmark (bench/pipeline/).
 */
import { z } from "zod";
import { ErrorCode, SluiceError } from "../../core/errors.js";
import type { ExportBatch, Exporter, ExporterFactory, ExportResult } from "../../core/pipeline/component.js";
import { sinkShuttingDown } from "../common/codes.js";

/** No options of its own; `batch` and `retry_on_failure` apply as for every exporter. */
export const nopConfigSchema = z.strictObject({});

export type NopConfig = z.output<typeof nopConfigSchema>;

export class NopExporter implements Exporter {
  readonly name: string;
  private started = false;
  private closing = false;

  constructor(name: string) {
    this.name = name;
  }

  async start(): Promise<void> {
    if (this.closing) throw sinkShuttingDown(this.name);
    this.started = true;
  }

  write(_batch: ExportBatch): Promise<ExportResult> {
    if (this.closing) return Promise.reject(sinkShuttingDown(this.name));
    if (!this.started) {
      return Promise.reject(new SluiceError(ErrorCode.INTERNAL, `${this.name}: write() before start()`));
    }
    return Promise.resolve({ failed: [] });
  }

  async shutdown(): Promise<void> {
    this.closing = true;
  }
}

export const nopExporterFactory: ExporterFactory<typeof nopConfigSchema> = {
  type: "nop",
  configSchema: nopConfigSchema,
  create: (name) => new NopExporter(name),
};
