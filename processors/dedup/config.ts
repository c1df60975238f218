import { z } from "zod";
import { durationSchema } from "../common/config.js";

export const dedupConfigSchema = z.strictObject({
  window_size: z.number().int().min(1).max(100_000_000).default(100_000),
  ttl: durationSchema("ttl").nullable().default(null),
});

export type DedupConfig = z.output<typeof dedupConfigSchema>;
