import { z } from "zod";
import { compileRegex } from "../common/regex.js";

export const BUILTIN_PATTERNS = ["email", "credit_card", "bearer_token", "ipv4", "us_ssn"] as const;
export type BuiltinPattern = (typeof BUILTIN_PATTERNS)[number];

const customPattern = z
  .strictObject({
    name: z.string().min(1),
    regex: z.string().min(1),
    replacement: z.string().optional(),
  })
  .superRefine((p, ctx) => {
    let re: RegExp;
    try {
      re = compileRegex(p.regex);
    } catch (err) {
      ctx.addIssue({
        code: "custom",
        path: ["regex"],
        message: `invalid regular expression: ${(err as Error).message}`,
      });
      return;
    }
    // A pattern that can match nothing would put a mask between every character.
    if (re.test("")) {
      ctx.addIssue({ code: "custom", path: ["regex"], message: "the pattern matches empty text" });
    }
  });

export const redactConfigSchema = z.strictObject({
  builtins: z.array(z.enum(BUILTIN_PATTERNS)).default(["email", "credit_card", "bearer_token", "us_ssn"]),
  patterns: z.array(customPattern).default([]),
  mask: z.string().default("****"),
  keep_last_digits: z.number().int().min(0).max(8).default(4),
  exclude_keys: z.array(z.string().min(1)).default([]),
  keys_always_redacted: z.array(z.string().min(1)).default(["password", "token", "secret", "authorization"]),
  include_resource: z.boolean().default(false),
  add_redaction_count_attribute: z.boolean().default(false),
});

export type RedactConfig = z.output<typeof redactConfigSchema>;
