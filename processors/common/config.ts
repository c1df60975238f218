/**
 * Config building blocks shared by the processors, in the same style as
 * core/config/schema.ts: snake_case keys, strict objects, durations as text.
 */
import { z } from "zod";
import { durationMs } from "../../core/config/zod-units.js";
import { regexSchema } from "./regex.js";

export const durationSchema = durationMs;

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
