import type { ProcessorFactory } from "../../core/pipeline/component.js";
import { redactConfigSchema } from "./config.js";
import { RedactProcessor } from "./redact-processor.js";

export type { RedactConfig } from "./config.js";
export { BUILTIN_PATTERNS, redactConfigSchema } from "./config.js";
export { luhnValid } from "./patterns.js";
export { REDACTION_COUNT_ATTRIBUTE, RedactProcessor } from "./redact-processor.js";

export const redactProcessorFactory: ProcessorFactory<typeof redactConfigSchema> = {
  type: "redact",
  configSchema: redactConfigSchema,
  create: (name, config, deps) => new RedactProcessor(name, config, deps),
};
