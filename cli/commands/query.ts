/**
 * `sluice search` and `sluice sql`: look at the embedded stores. Search reads
 * the SQLite FTS index directly (WAL lets it read while a gateway writes).
 * DuckDB allows one writing process, so sql asks the running process's admin
 * endpoint first and opens the file itself only when no process answers.
 */
import { join } from "node:path";
import type { Config } from "../../core/config/load-config.js";
import { searchRecords } from "../../exporters/sqlite_search/index.js";
import { parseEndpoint } from "../../gateway/listen.js";

function exporterPath(config: Config, type: string, fallback: string): string {
  for (const e of config.exporterInstances.values()) {
    if (e.factory.type === type) {
      const path = (e.config as { path?: string }).path;
      return path ?? fallback;
    }
  }
  return fallback;
}

export function searchDbPath(config: Config): string {
  return exporterPath(config, "sqlite_search", join(config.dataDir, "search", "search.db"));
}

export function warehousePath(config: Config): string {
  return exporterPath(config, "duckdb_warehouse", join(config.dataDir, "warehouse", "warehouse.duckdb"));
}

export function adminUrl(config: Config): string {
  const { host, port } = parseEndpoint(config.admin.endpoint);
  const h = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  return `http://${h.includes(":") ? `[${h}]` : h}:${port}`;
}

export interface SqlResult {
  columns: string[];
  rows: unknown[][];
}

export async function runSql(config: Config, sql: string): Promise<SqlResult> {
  const res = await fetch(`${adminUrl(config)}/api/sql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sql }),
  }).catch(() => undefined);
  if (res?.ok) return (await res.json()) as SqlResult;
  if (res && res.status !== 404) throw new Error(((await res.json()) as { error: string }).error);
  // DuckDB is loaded only for this fallback: every other command, the gateway included, goes without it.
  const { queryWarehouseFile } = await import("../../exporters/duckdb_warehouse/query.js");
  return queryWarehouseFile(warehousePath(config), sql);
}

export function formatTable(columns: string[], rows: unknown[][]): string {
  const text = (v: unknown): string =>
    v === null || v === undefined
      ? "NULL"
      : typeof v === "object"
        ? JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x))
        : String(v);
  const cells = rows.map((r) => r.map(text));
  const widths = columns.map((c, i) =>
    Math.min(80, Math.max(c.length, ...cells.map((r) => (r[i] ?? "").length))),
  );
  const fmt = (cols: string[]) =>
    cols
      .map((c, i) => {
        const w = widths[i] as number;
        return (c.length > w ? `${c.slice(0, w - 1)}…` : c).padEnd(w);
      })
      .join("  ")
      .trimEnd();
  return [
    fmt(columns),
    fmt(widths.map((w) => "-".repeat(w))),
    ...cells.map(fmt),
    `(${rows.length} rows)`,
  ].join("\n");
}

export { searchRecords };
