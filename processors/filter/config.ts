import { z } from "zod";
import { attributeConditionsSchema } from "../common/config.js";
import { regexSchema, textMatcherSchema } from "../common/regex.js";
import { severityLevelSchema } from "../common/severity.js";

const CONDITIONS = ["severity_below", "attribute", "body_matches", "kind", "event_name"] as const;

export const filterRuleSchema = z
  .strictObject({
    name: z.string().min(1).optional(),
    severity_below: severityLevelSchema("severity_below").optional(),
    unspecified_is_below: z.boolean().default(false),
    attribute: attributeConditionsSchema.optional(),
    body_matches: regexSchema.optional(),
    kind: z.enum(["logs", "events"]).optional(),
    event_name: textMatcherSchema.optional(),
  })
  .refine((r) => CONDITIONS.some((c) => r[c] !== undefined), {
    message: `a rule needs at least one of ${CONDITIONS.join(", ")}`,
  });

export const filterConfigSchema = z.strictObject({
  drop: z.array(filterRuleSchema).default([]),
  keep: z
    .array(filterRuleSchema)
    .min(1, "keep needs at least one rule (leave it out to keep everything)")
    .optional(),
});

export type FilterConfig = z.output<typeof filterConfigSchema>;
export type FilterRuleConfig = z.output<typeof filterRuleSchema>;
