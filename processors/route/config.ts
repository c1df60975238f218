import { z } from "zod";
import { attributeConditionsSchema } from "../common/config.js";
import { textMatcherSchema } from "../common/regex.js";
import { severityLevelSchema } from "../common/severity.js";

const exporterNames = z.array(z.string().min(1));

export const routeRuleSchema = z.strictObject({
  name: z.string().min(1).optional(),
  when: z
    .strictObject({
      kind: z.enum(["logs", "events"]).optional(),
      severity_at_least: severityLevelSchema("severity_at_least").optional(),
      attribute: attributeConditionsSchema.optional(),
      event_name: textMatcherSchema.optional(),
    })
    .prefault({}),
  exporters: exporterNames.min(1, "a rule needs at least one exporter"),
});

export const routeConfigSchema = z
  .strictObject({
    rules: z.array(routeRuleSchema).default([]),
    default_exporters: exporterNames.default([]),
    keep_unrouted: z.boolean().default(false),
  })
  .refine((c) => c.rules.length > 0 || c.default_exporters.length > 0, {
    message: "a route needs rules or default_exporters; without either every record would be dropped",
  });

export type RouteConfig = z.output<typeof routeConfigSchema>;
export type RouteRuleConfig = z.output<typeof routeRuleSchema>;
