import { z } from "zod";
import { severityLevelSchema } from "../common/severity.js";

export const sampleConfigSchema = z.strictObject({
  rate: z.number().min(0).max(1),
  key: z
    .string()
    .regex(/^(trace_id|event_id|attribute:.+)$/, "expected trace_id, event_id or attribute:<name>")
    .default("trace_id"),
  always_keep_severity_at_least: severityLevelSchema("always_keep_severity_at_least")
    .nullable()
    .prefault("ERROR"),
  sample_events: z.boolean().default(false),
  hash_seed: z.number().int().min(0).max(0xffffffff).default(0),
});

export type SampleConfig = z.output<typeof sampleConfigSchema>;
