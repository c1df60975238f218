export {
  type DuckdbWarehouseConfig,
  DuckdbWarehouseExporter,
  defaultWarehousePath,
  duckdbWarehouseConfigSchema,
  duckdbWarehouseExporterFactory,
} from "./duckdb-warehouse-exporter.js";
export { type QueryOptions, type QueryResult, queryWarehouseFile } from "./query.js";
