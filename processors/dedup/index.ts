import type { ProcessorFactory } from "../../core/pipeline/component.js";
import { dedupConfigSchema } from "./config.js";
import { DedupProcessor } from "./dedup-processor.js";

export type { DedupConfig } from "./config.js";
export { dedupConfigSchema } from "./config.js";
export { DedupProcessor, DUPLICATE } from "./dedup-processor.js";
export { IdWindow } from "./window.js";

export const dedupProcessorFactory: ProcessorFactory<typeof dedupConfigSchema> = {
  type: "dedup",
  configSchema: dedupConfigSchema,
  create: (name, config, deps) => new DedupProcessor(name, config, deps),
};
