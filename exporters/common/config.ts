/**
 * Config value types shared by the exporters' schemas, spelled the same way
 * as in the main config file (durations like "7d", sizes like "64MiB").
 */
import { z } from "zod";

export { durationMs, sizeBytes } from "../../core/config/zod-units.js";
