/**
 * What `sluice start` runs without --config: every role on embedded parts,
 * every record into all three embedded sinks.
 */
export const DEFAULT_CONFIG_DOC = {
  receivers: { otlp: {} },
  exporters: { sqlite_search: {}, duckdb_warehouse: {}, file_archive: {} },
  pipelines: {
    logs: {
      receivers: ["otlp"],
      processors: [],
      exporters: ["sqlite_search", "duckdb_warehouse", "file_archive"],
    },
  },
};
