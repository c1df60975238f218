/**
 * Config value types shared by the exporters' schemas, spelled the same way
 * as in the main config file (durations like "7d", sizes like "64MiB").
 */
import { z } from "zod";
import { parseDuration, parseSize } from "../../core/config/units.js";

/** A duration in milliseconds, written as "500ms", "10s", "7d" or a number of milliseconds. */
export const durationMs = (what: string) =>
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

/** A size in bytes, written as "512KiB", "64MiB" or a number of bytes. */
export const sizeBytes = (what: string) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const bytes = parseSize(v);
    if (bytes === undefined) {
      ctx.issues.push({
        code: "custom",
        input: v,
        message: `${what}: expected a size such as 512KiB, 20MiB, 10GiB or a number of bytes`,
      });
      return z.NEVER;
    }
    return bytes;
  });
