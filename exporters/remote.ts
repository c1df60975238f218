/**
 * The exporters that write to servers outside the process. Each client
 * library is loaded only when an exporter of its type starts.
 */
import type { ExporterFactory } from "../core/pipeline/component.js";
import { clickhouseConfigSchema } from "./clickhouse/config.js";
import { lazyExporterFactory } from "./common/lazy-exporter.js";
import { s3ConfigSchema } from "./s3/config.js";
import { searchConfigSchema } from "./search/config.js";

export const remoteExporterFactories: ExporterFactory[] = [
  lazyExporterFactory({
    type: "opensearch",
    configSchema: searchConfigSchema,
    load: async () => (await import("./search/index.js")).openSearchExporterFactory,
  }),
  lazyExporterFactory({
    type: "elasticsearch",
    configSchema: searchConfigSchema,
    load: async () => (await import("./search/index.js")).elasticsearchExporterFactory,
  }),
  lazyExporterFactory({
    type: "clickhouse",
    configSchema: clickhouseConfigSchema,
    load: async () => (await import("./clickhouse/index.js")).clickhouseExporterFactory,
  }),
  lazyExporterFactory({
    type: "s3",
    configSchema: s3ConfigSchema,
    load: async () => (await import("./s3/index.js")).s3ExporterFactory,
  }),
];
