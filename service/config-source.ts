/**
 * Where a process's configuration comes from. The primary reads the file
 * once and hands the same text to every gateway worker it forks, restarted
 * ones included, so a file edited while the gateway runs never leaves the
 * workers disagreeing with each other or with the primary.
 */
import { readFileSync } from "node:fs";
import { buildConfig, type Config, parseConfigText } from "../core/config/load-config.js";
import { ErrorCode, SluiceError } from "../core/errors.js";
import { registry } from "./components.js";
import { DEFAULT_CONFIG_DOC } from "./default-config.js";

export interface ConfigSource {
  /** The configuration file's text; undefined runs on the built-in defaults. */
  text: string | undefined;
  /** The file's path, for error messages. */
  path: string | undefined;
  /** Overrides data_dir (the --data-dir flag). */
  dataDir: string | undefined;
}

export function readConfigSource(opts: { config?: string; dataDir?: string }): ConfigSource {
  if (opts.config === undefined) return { text: undefined, path: undefined, dataDir: opts.dataDir };
  try {
    return { text: readFileSync(opts.config, "utf8"), path: opts.config, dataDir: opts.dataDir };
  } catch (err) {
    throw new SluiceError(
      ErrorCode.INVALID_CONFIG,
      `cannot read config file ${opts.config}: ${(err as Error).message}`,
    );
  }
}

export function configFromSource(source: ConfigSource): Config {
  const options = { dataDir: source.dataDir, registry };
  return source.text === undefined
    ? buildConfig(DEFAULT_CONFIG_DOC, options)
    : parseConfigText(source.text, { ...options, source: source.path });
}
