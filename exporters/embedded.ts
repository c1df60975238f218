/**
 * The exporters that need nothing outside this process: the SQLite search
 * store, the DuckDB warehouse and the local archive.
 */
import type { ExporterFactory } from "../core/pipeline/component.js";
import { duckdbWarehouseExporterFactory } from "./duckdb_warehouse/index.js";
import { fileArchiveExporterFactory } from "./file_archive/index.js";
import { sqliteSearchExporterFactory } from "./sqlite_search/index.js";

export const embeddedExporterFactories: ExporterFactory[] = [
  sqliteSearchExporterFactory,
  duckdbWarehouseExporterFactory,
  fileArchiveExporterFactory,
];
