/** The exporters that write to servers outside the process. */
import type { ExporterFactory } from "../core/pipeline/component.js";
import { clickhouseExporterFactory } from "./clickhouse/index.js";
import { s3ExporterFactory } from "./s3/index.js";
import { elasticsearchExporterFactory, openSearchExporterFactory } from "./search/index.js";

export const remoteExporterFactories: ExporterFactory[] = [
  openSearchExporterFactory,
  elasticsearchExporterFactory,
  clickhouseExporterFactory,
  s3ExporterFactory,
];
