/**
 * `opensearch` and `elasticsearch` exporter types: the same exporter on each
 * product's own client, because the Elasticsearch 9 client refuses servers
 * that do not announce themselves as Elasticsearch.
 */
import type { ExporterFactory } from "../../core/pipeline/component.js";
import { type SearchConfig, searchConfigSchema } from "./config.js";
import { ElasticsearchBackend } from "./elasticsearch-backend.js";
import { OpenSearchBackend } from "./opensearch-backend.js";
import { SearchExporter } from "./search-exporter.js";

export { type SearchConfig, searchConfigSchema } from "./config.js";
export { SearchExporter } from "./search-exporter.js";

export const openSearchExporterFactory: ExporterFactory<typeof searchConfigSchema> = {
  type: "opensearch",
  configSchema: searchConfigSchema,
  create: (name, config, deps) =>
    new SearchExporter(name, config, deps, {
      flavor: "opensearch",
      backend: (c: SearchConfig) => new OpenSearchBackend(c),
    }),
};

export const elasticsearchExporterFactory: ExporterFactory<typeof searchConfigSchema> = {
  type: "elasticsearch",
  configSchema: searchConfigSchema,
  create: (name, config, deps) =>
    new SearchExporter(name, config, deps, {
      flavor: "elasticsearch",
      backend: (c: SearchConfig) => new ElasticsearchBackend(c),
    }),
};
