/**
 * Config building blocks shared by the processors, in the same style as
 * core/config/schema.ts: snake_case keys, strict objects, durations as text.
 */
import { z } from "zod";
import { parseDuration } from "../../core/config/units.js";
import { regexSchema } from "./regex.js";

export const durationSchema = (what: string) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.issues.push({
        code: "custom",
        input: v,
        message: `${what}: expected a duration such as 500ms, 10s, 5m, 24h, 7d or a number of milliseconds`,
      });
      return z.NEVER;
    }
    return ms;
  });

/** One attribute test; with only `key` given it means "the attribute exists". */
export const attributeConditionSchema = z
  .strictObject({
    key: z.string().min(1),
    equals: z.union([z.string(), z.number(), z.boolean()]).optional(),
    matches: regexSchema.optional(),
    exists: z.boolean().optional(),
  })
  .refine((c) => !(c.exists === false && (c.equals !== undefined || c.matches !== undefined)), {
    message: "exists: false cannot be combined with equals or matches",
  });

export type AttributeConditionConfig = z.output<typeof attributeConditionSchema>;

/** One condition or a list of them, all of which must hold. */
export const attributeConditionsSchema = z.union([
  attributeConditionSchema,
  z.array(attributeConditionSchema).min(1, "give at least one attribute condition"),
]);
