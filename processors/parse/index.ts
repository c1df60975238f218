import type { ProcessorFactory } from "../../core/pipeline/component.js";
import { parseConfigSchema } from "./config.js";
import { ParseProcessor } from "./parse-processor.js";

export type { ParseConfig } from "./config.js";
export { parseConfigSchema } from "./config.js";
export { ParseProcessor } from "./parse-processor.js";

export const parseProcessorFactory: ProcessorFactory<typeof parseConfigSchema> = {
  type: "parse",
  configSchema: parseConfigSchema,
  create: (name, config, deps) => new ParseProcessor(name, config, deps),
};
