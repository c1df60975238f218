/** Every processor and exporter type this build registers, by type name. */
import type { ComponentRegistry } from "../core/config/load-config.js";
import { embeddedExporterFactories } from "../exporters/embedded.js";
import { nopExporterFactory } from "../exporters/nop/index.js";
import { remoteExporterFactories } from "../exporters/remote.js";
import { processorFactories } from "../processors/index.js";

export const registry: ComponentRegistry = {
  processors: processorFactories,
  exporters: [...embeddedExporterFactories, ...remoteExporterFactories, nopExporterFactory],
};
