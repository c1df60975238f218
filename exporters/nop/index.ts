export { type NopConfig, NopExporter, nopConfigSchema, nopExporterFactory } from "./nop-exporter.js";
