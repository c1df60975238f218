export {
  defaultArchivePath,
  type FileArchiveConfig,
  FileArchiveExporter,
  fileArchiveConfigSchema,
  fileArchiveExporterFactory,
} from "./file-archive-exporter.js";
