import { z } from "zod";
import { durationSchema } from "../common/config.js";

export const lookupSchema = z.strictObject({
  file: z
    .string()
    .min(1)
    .refine((f) => /\.(csv|json)$/i.test(f), "expected a .csv or .json file"),
  key: z.string().min(1),
  key_column: z.string().min(1).optional(),
  from: z.enum(["resource", "record"]).default("resource"),
  columns: z.array(z.string().min(1)).min(1).optional(),
  prefix: z.string().default(""),
});

export const enrichConfigSchema = z.strictObject({
  attributes: z.record(z.string().min(1), z.json()).default({}),
  overwrite: z.boolean().default(false),
  lookups: z.array(lookupSchema).default([]),
  reload_interval: durationSchema("reload_interval").prefault("5s"),
});

export type EnrichConfig = z.output<typeof enrichConfigSchema>;
export type LookupConfig = z.output<typeof lookupSchema>;
