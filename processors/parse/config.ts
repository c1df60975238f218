import { z } from "zod";
import { compileRegex } from "../common/regex.js";

export const PARSE_FORMATS = [
  "json",
  "logfmt",
  "regex",
  "nginx_combined",
  "apache_combined",
  "syslog_rfc5424",
  "syslog_rfc3164",
] as const;

export type ParseFormat = (typeof PARSE_FORMATS)[number];

/** "Z", "UTC", "+02:00", "-0700" → minutes east of UTC. */
export function parseOffset(text: string): number | undefined {
  const t = text.trim();
  if (t === "Z" || t.toUpperCase() === "UTC") return 0;
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(t);
  if (!m) return undefined;
  const hours = Number(m[2]);
  const minutes = Number(m[3]);
  if (hours > 23 || minutes > 59) return undefined;
  return (m[1] === "-" ? -1 : 1) * (hours * 60 + minutes);
}

const NAMED_GROUP = /\(\?<(?![=!])[^>]+>/;

export const parseConfigSchema = z
  .strictObject({
    format: z.enum(PARSE_FORMATS),
    source: z
      .string()
      .regex(/^(body|attributes\..+)$/, "expected body or attributes.<key>")
      .default("body"),
    pattern: z.string().optional(),
    prefix: z.string().default(""),
    typed: z.boolean().default(true),
    severity_from: z.string().min(1).optional(),
    overwrite_severity: z.boolean().default(false),
    timestamp_from: z.string().min(1).optional(),
    overwrite_timestamp: z.boolean().default(false),
    timezone: z
      .string()
      .refine((v) => parseOffset(v) !== undefined, 'expected a UTC offset such as "UTC", "+02:00" or "-0700"')
      .default("UTC"),
    keep_original_body: z.boolean().default(true),
    body_from: z.string().min(1).default("message"),
    mark_errors: z.boolean().default(false),
  })
  .superRefine((c, ctx) => {
    if (c.format !== "regex") {
      if (c.pattern !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["pattern"],
          message: "pattern is only used with format: regex",
        });
      }
      return;
    }
    if (c.pattern === undefined) {
      ctx.addIssue({ code: "custom", path: ["pattern"], message: "format: regex needs a pattern" });
      return;
    }
    try {
      compileRegex(c.pattern);
    } catch (err) {
      ctx.addIssue({
        code: "custom",
        path: ["pattern"],
        message: `invalid regular expression: ${(err as Error).message}`,
      });
      return;
    }
    if (!NAMED_GROUP.test(c.pattern)) {
      ctx.addIssue({
        code: "custom",
        path: ["pattern"],
        message: "the pattern needs at least one named group, e.g. (?<level>\\w+)",
      });
    }
  });

export type ParseConfig = z.output<typeof parseConfigSchema>;
