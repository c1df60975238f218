export { type SearchHit, type SearchOptions, searchRecords, toFtsQuery } from "./search-records.js";
export {
  defaultSearchPath,
  type SqliteSearchConfig,
  SqliteSearchExporter,
  sqliteSearchConfigSchema,
  sqliteSearchExporterFactory,
} from "./sqlite-search-exporter.js";
