/** Every processor type this build provides, registered by type name. */
import type { ProcessorFactory } from "../core/pipeline/component.js";
import { dedupProcessorFactory } from "./dedup/index.js";
import { enrichProcessorFactory } from "./enrich/index.js";
import { filterProcessorFactory } from "./filter/index.js";
import { parseProcessorFactory } from "./parse/index.js";
import { redactProcessorFactory } from "./redact/index.js";
import { routeProcessorFactory } from "./route/index.js";
import { sampleProcessorFactory } from "./sample/index.js";

export { routeTargets } from "./route/index.js";

export const processorFactories: ProcessorFactory[] = [
  parseProcessorFactory,
  enrichProcessorFactory,
  filterProcessorFactory,
  sampleProcessorFactory,
  redactProcessorFactory,
  routeProcessorFactory,
  dedupProcessorFactory,
];
