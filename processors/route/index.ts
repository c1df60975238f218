import type { ProcessorFactory } from "../../core/pipeline/component.js";
import { routeConfigSchema } from "./config.js";
import { RouteProcessor } from "./route-processor.js";

export type { RouteConfig } from "./config.js";
export { routeConfigSchema } from "./config.js";
export { RouteProcessor, routeTargets, UNROUTED } from "./route-processor.js";

export const routeProcessorFactory: ProcessorFactory<typeof routeConfigSchema> = {
  type: "route",
  configSchema: routeConfigSchema,
  create: (name, config, deps) => new RouteProcessor(name, config, deps),
};
