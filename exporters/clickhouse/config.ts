/**
 * `clickhouse` exporter configuration. Names follow the OpenTelemetry
 * Collector's ClickHouse exporter (endpoint, database, logs_table_name, ttl,
 * create_schema, async_insert) so the same table serves both.
 */
import { z } from "zod";
import { durationMs } from "../common/config.js";

const httpUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
}, "expected the HTTP interface's URL, e.g. http://127.0.0.1:8123");

/** Names are quoted in every statement; this only keeps out what quoting cannot carry. */
const identifier = (what: string) =>
  z
    .string()
    .min(1, `${what} must not be empty`)
    .max(200)
    .refine((v) => !v.includes("`") && !v.includes("\\") && !v.includes("\0"), {
      message: `${what} must not contain backticks, backslashes or NUL`,
    });

export const clickhouseConfigSchema = z.strictObject({
  endpoint: httpUrl,
  username: z.string().default("default"),
  password: z.string().default(""),
  database: identifier("database").default("otel"),
  logs_table_name: identifier("logs_table_name").default("otel_logs"),
  /** Rows older than this are dropped (whole parts at a time); absent or 0 keeps them. */
  ttl: durationMs("ttl")
    .refine((ms) => ms === 0 || ms >= 1000, "ttl: at least 1s, or 0 for none")
    .optional(),
  create_schema: z.boolean().default(true),
  timeout: durationMs("timeout").prefault("30s"),
  /**
   * Lets the server buffer small inserts. The exporter still waits until
   * the buffer is flushed to the table (wait_for_async_insert=1), so a write
   * only resolves once rows are in a part.
   */
  async_insert: z.boolean().default(false),
});

export type ClickHouseConfig = z.output<typeof clickhouseConfigSchema>;
