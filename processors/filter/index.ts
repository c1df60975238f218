import type { ProcessorFactory } from "../../core/pipeline/component.js";
import { filterConfigSchema } from "./config.js";
import { FilterProcessor } from "./filter-processor.js";

export type { FilterConfig } from "./config.js";
export { filterConfigSchema } from "./config.js";
export { FilterProcessor, NOT_KEPT } from "./filter-processor.js";

export const filterProcessorFactory: ProcessorFactory<typeof filterConfigSchema> = {
  type: "filter",
  configSchema: filterConfigSchema,
  create: (name, config, deps) => new FilterProcessor(name, config, deps),
};
