/**
 * Configuration shared by the `opensearch` and `elasticsearch` exporters.
 * Key names follow the OpenTelemetry Collector's Elasticsearch exporter
 * where it has an equivalent (endpoints, logs_index, auth), so a Collector
 * config translates with few changes.
 */
import { z } from "zod";
import { durationMs, sizeBytes } from "../common/config.js";
import { validateIndexTemplate } from "./index-name.js";

const httpUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
}, "expected an http:// or https:// URL, e.g. http://127.0.0.1:9200");

const basicAuth = z.strictObject({
  username: z.string().min(1),
  password: z.string(),
});

const apiKeyAuth = z.strictObject({
  /** The encoded key (base64 of id:secret), sent as `Authorization: ApiKey <api_key>`. */
  api_key: z.string().min(1),
});

const tls = z
  .strictObject({
    insecure_skip_verify: z.boolean().default(false),
    ca_file: z.string().min(1).optional(),
  })
  .prefault({});

const template = z
  .strictObject({
    /** Installs (and overwrites) the index template at start. Turn off when an operator manages it. */
    install: z.boolean().default(true),
    /** Defaults to one derived from the index pattern, so exporters sharing a pattern share the template. */
    name: z.string().min(1).optional(),
    /** Above the built-in `logs-*-*` template (100) so ours wins for the same pattern. */
    priority: z.number().int().min(0).default(250),
    total_fields_limit: z.number().int().min(100).default(2000),
    shards: z.number().int().min(1).optional(),
    replicas: z.number().int().min(0).optional(),
  })
  .prefault({});

export const searchConfigSchema = z.strictObject({
  endpoints: z.array(httpUrl).min(1, "at least one endpoint is needed"),
  auth: z.union([basicAuth, apiKeyAuth]).optional(),
  tls,
  logs_index: z
    .string()
    .default("logs-{dataset}-{namespace}")
    .superRefine((v, ctx) => {
      const problem = validateIndexTemplate(v);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
  dataset: z.string().min(1).default("generic"),
  namespace: z.string().min(1).default("default"),
  mode: z.enum(["data_stream", "daily_index"]).default("data_stream"),
  request_timeout: durationMs("request_timeout").prefault("30s"),
  max_retries: z.number().int().min(0).max(20).default(3),
  /** Upper bound for one _bulk request body; a batch larger than this is sent in several requests. */
  max_bulk_bytes: sizeBytes("max_bulk_bytes")
    .refine((n) => n >= 1024, "max_bulk_bytes: at least 1KiB")
    .prefault("5MiB"),
  template,
});

export type SearchConfig = z.output<typeof searchConfigSchema>;
