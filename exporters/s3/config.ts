/**
 * `s3` exporter configuration: an AWS S3 bucket, or any S3-compatible store
 * through `endpoint` (most of them want `force_path_style: true`).
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
}, "expected an http:// or https:// URL, e.g. http://127.0.0.1:9000");

const credentials = z.strictObject({
  access_key_id: z.string().min(1),
  secret_access_key: z.string().min(1),
  session_token: z.string().min(1).optional(),
});

export const s3ConfigSchema = z.strictObject({
  bucket: z
    .string()
    .min(3)
    .max(63)
    .regex(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/, "bucket: lowercase letters, digits, dots and hyphens"),
  prefix: z.string().default("logs"),
  region: z.string().min(1).default("us-east-1"),
  endpoint: httpUrl.optional(),
  force_path_style: z.boolean().default(false),
  /** Absent: the default AWS credential chain (environment, shared config, instance or task role). */
  credentials: credentials.optional(),
  compression: z.enum(["gzip", "none"]).default("gzip"),
  storage_class: z.string().min(1).optional(),
  create_bucket: z.boolean().default(false),
  /** Per request; the SDK retries a timed-out request on its own before the batch is retried. */
  timeout: durationMs("timeout").prefault("30s"),
});

export type S3Config = z.output<typeof s3ConfigSchema>;
