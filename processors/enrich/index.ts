import type { ProcessorFactory } from "../../core/pipeline/component.js";
import { enrichConfigSchema } from "./config.js";
import { EnrichProcessor } from "./enrich-processor.js";

export type { EnrichConfig } from "./config.js";
export { enrichConfigSchema } from "./config.js";
export { EnrichProcessor } from "./enrich-processor.js";
export { buildTable, parseCsv } from "./lookup-table.js";

export const enrichProcessorFactory: ProcessorFactory<typeof enrichConfigSchema> = {
  type: "enrich",
  configSchema: enrichConfigSchema,
  create: (name, config, deps) => new EnrichProcessor(name, config, deps),
};
