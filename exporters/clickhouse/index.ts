/** `clickhouse` exporter type: rows in the OpenTelemetry Collector's otel_logs layout. */
import type { ExporterFactory } from "../../core/pipeline/component.js";
import { ClickHouseExporter } from "./clickhouse-exporter.js";
import { clickhouseConfigSchema } from "./config.js";

export { ClickHouseExporter } from "./clickhouse-exporter.js";
export { type ClickHouseConfig, clickhouseConfigSchema } from "./config.js";
export { createTableSql } from "./ddl.js";

export const clickhouseExporterFactory: ExporterFactory<typeof clickhouseConfigSchema> = {
  type: "clickhouse",
  configSchema: clickhouseConfigSchema,
  create: (name, config, deps) => new ClickHouseExporter(name, config, deps),
};
