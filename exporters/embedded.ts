/**
 * The exporters that need nothing outside this process: the SQLite search
 * store, the DuckDB warehouse and the local archive. DuckDB, the heavy one,
 * is loaded only when a warehouse exporter starts.
 */
import type { ExporterFactory } from "../core/pipeline/component.js";
import { lazyExporterFactory } from "./common/lazy-exporter.js";
import { duckdbWarehouseConfigSchema } from "./duckdb_warehouse/config.js";
import { fileArchiveExporterFactory } from "./file_archive/index.js";
import { sqliteSearchExporterFactory } from "./sqlite_search/index.js";

export const embeddedExporterFactories: ExporterFactory[] = [
  sqliteSearchExporterFactory,
  lazyExporterFactory({
    type: "duckdb_warehouse",
    configSchema: duckdbWarehouseConfigSchema,
    load: async () =>
      (await import("./duckdb_warehouse/duckdb-warehouse-exporter.js")).duckdbWarehouseExporterFactory,
    queryable: true,
  }),
  fileArchiveExporterFactory,
];
