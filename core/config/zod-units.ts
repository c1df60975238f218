/**
 * zod types for durations and sizes as the configuration spells them
 * ("500ms", "7d", "64MiB", or plain numbers), shared by the main schema and
 * every component's schema so they accept and report the same way.
 */
import { z } from "zod";
import { parseDuration, parseSize } from "./units.js";

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

/** A size in bytes, written as "512KiB", "64MiB", "10GiB" or a number of bytes. */
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
