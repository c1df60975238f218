/** `duckdb_warehouse` settings, apart from the exporter so validating a config never loads DuckDB. */
import { join } from "node:path";
import { z } from "zod";

export const duckdbWarehouseConfigSchema = z.strictObject({
  /** DuckDB file; default <data_dir>/warehouse/warehouse.duckdb. */
  path: z.string().min(1).optional(),
});

export type DuckdbWarehouseConfig = z.output<typeof duckdbWarehouseConfigSchema>;

export function defaultWarehousePath(dataDir: string): string {
  return join(dataDir, "warehouse", "warehouse.duckdb");
}
