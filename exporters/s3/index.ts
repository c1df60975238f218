/** `s3` exporter type: an hourly, Hive-partitioned OTLP/JSON-lines archive in S3 or an S3-compatible store. */
import type { ExporterFactory } from "../../core/pipeline/component.js";
import { s3ConfigSchema } from "./config.js";
import { S3Exporter } from "./s3-exporter.js";

export { type S3Config, s3ConfigSchema } from "./config.js";
export { S3Exporter } from "./s3-exporter.js";

export const s3ExporterFactory: ExporterFactory<typeof s3ConfigSchema> = {
  type: "s3",
  configSchema: s3ConfigSchema,
  create: (name, config, deps) => new S3Exporter(name, config, deps),
};
