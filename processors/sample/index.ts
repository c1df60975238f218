import type { ProcessorFactory } from "../../core/pipeline/component.js";
import { sampleConfigSchema } from "./config.js";
import { SampleProcessor } from "./sample-processor.js";

export type { SampleConfig } from "./config.js";
export { sampleConfigSchema } from "./config.js";
export { hashKey } from "./hash.js";
export { keepKey, SAMPLED, SampleProcessor, sampleThreshold } from "./sample-processor.js";

export const sampleProcessorFactory: ProcessorFactory<typeof sampleConfigSchema> = {
  type: "sample",
  configSchema: sampleConfigSchema,
  create: (name, config, deps) => new SampleProcessor(name, config, deps),
};
