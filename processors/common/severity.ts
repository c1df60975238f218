/**
 * Severity names and numbers (OTel log data model: TRACE 1-4, DEBUG 5-8,
 * INFO 9-12, WARN 13-16, ERROR 17-20, FATAL 21-24), the mapping of common
 * level spellings to them, and the config type for thresholds.
 */
import { z } from "zod";

export const SEVERITY_THRESHOLDS = {
  TRACE: 1,
  DEBUG: 5,
  INFO: 9,
  WARN: 13,
  ERROR: 17,
  FATAL: 21,
} as const;

const THRESHOLD_NAMES = Object.keys(SEVERITY_THRESHOLDS).join(", ");

/** A threshold in config: a level name (any case) or a severity number 1..24. */
export const severityLevelSchema = (what: string) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    if (typeof v === "number") {
      if (Number.isInteger(v) && v >= 1 && v <= 24) return v;
    } else {
      const n = SEVERITY_THRESHOLDS[v.trim().toUpperCase() as keyof typeof SEVERITY_THRESHOLDS];
      if (n !== undefined) return n;
    }
    ctx.issues.push({
      code: "custom",
      input: v,
      message: `${what}: expected one of ${THRESHOLD_NAMES} or a severity number 1..24`,
    });
    return z.NEVER;
  });

/**
 * Level words as applications write them. Where a word has a place in the
 * OTel data model's example mappings (syslog, zap, java.util.logging, .NET)
 * it gets that number; "critical"/"crit" count as FATAL because application
 * loggers (Python, .NET) use them as their top level.
 */
const LEVEL_WORDS = new Map<string, number>(
  Object.entries({
    trace: 1,
    finest: 1,
    debug: 5,
    verbose: 5,
    finer: 5,
    fine: 6,
    config: 7,
    info: 9,
    information: 9,
    informational: 9,
    notice: 10,
    warn: 13,
    warning: 13,
    error: 17,
    err: 17,
    severe: 17,
    dpanic: 18,
    alert: 19,
    panic: 19,
    fatal: 21,
    critical: 21,
    crit: 21,
    emerg: 21,
    emergency: 21,
  }),
);

/** Severity number for a level word, 0 when it is not one. */
export function severityFromText(text: string): number {
  const direct = LEVEL_WORDS.get(text);
  if (direct !== undefined) return direct;
  return LEVEL_WORDS.get(text.trim().toLowerCase()) ?? 0;
}

/** RFC 5424 severities 0..7 by the OTel data model's syslog mapping. */
const SYSLOG_NUMBERS = [21, 19, 18, 17, 13, 10, 9, 5] as const;
const SYSLOG_NAMES = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"] as const;

export function syslogSeverityNumber(code: number): number {
  return SYSLOG_NUMBERS[code] ?? 0;
}

export function syslogSeverityName(code: number): string {
  return SYSLOG_NAMES[code] ?? "";
}

/** pino and bunyan numeric levels (10 trace .. 60 fatal). */
const NUMERIC_LEVELS: Record<number, [number, string]> = {
  10: [1, "trace"],
  20: [5, "debug"],
  30: [9, "info"],
  40: [13, "warn"],
  50: [17, "error"],
  60: [21, "fatal"],
};

export function numericLevel(code: number): [number, string] | undefined {
  return NUMERIC_LEVELS[code];
}
