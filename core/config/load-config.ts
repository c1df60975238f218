/**
 * Reads, substitutes and validates the configuration at start-up. Every
 * problem is reported at once, each naming its path and what is allowed,
 * so a bad file fails fast instead of surfacing after traffic arrives.
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ErrorCode, SluiceError } from "../errors.js";
import type { ExporterFactory, ProcessorFactory } from "../pipeline/component.js";
import { substituteEnv } from "./env-substitution.js";
import {
  configSchema,
  type ForwardReceiverConfig,
  type OtlpReceiverConfig,
  type RawConfig,
  receiverSchemas,
} from "./schema.js";
import { parseDuration, parseSize } from "./units.js";

/** A receiver with its type's validated config; `name` is the full key, e.g. "otlp/internal". */
export type ReceiverInstance =
  | { name: string; type: "otlp"; config: OtlpReceiverConfig }
  | { name: string; type: "forward"; config: ForwardReceiverConfig };

/** Processor and exporter types this build knows, by type name. */
export interface ComponentRegistry {
  processors: readonly ProcessorFactory[];
  exporters: readonly ExporterFactory[];
}

export const EMPTY_REGISTRY: ComponentRegistry = { processors: [], exporters: [] };

export interface ProcessorInstance {
  name: string;
  factory: ProcessorFactory;
  config: unknown;
}

export interface ExporterInstance {
  name: string;
  factory: ExporterFactory;
  config: unknown;
  /** How the consumer batches records for this exporter. */
  batch: { maxRecords: number; maxBytes: number; lingerMs: number };
  /** Capped exponential backoff for retryable failures; retries never give up (lag grows instead). */
  retry: { initialIntervalMs: number; maxIntervalMs: number };
}

export interface Config extends RawConfig {
  /** Absolute data directory. */
  dataDir: string;
  /** Receivers used by at least one pipeline, validated by their type's schema. */
  activeReceivers: ReceiverInstance[];
  processorInstances: Map<string, ProcessorInstance>;
  exporterInstances: Map<string, ExporterInstance>;
}

/** Settings every exporter accepts, handled by the consumer rather than the exporter itself. */
const exporterCommon = z.strictObject({
  batch: z
    .strictObject({
      max_records: z.number().int().min(1).default(5000),
      max_bytes: z.union([z.string(), z.number()]).default("4MiB"),
      linger: z.union([z.string(), z.number()]).default("200ms"),
    })
    .prefault({}),
  retry_on_failure: z
    .strictObject({
      initial_interval: z.union([z.string(), z.number()]).default("100ms"),
      max_interval: z.union([z.string(), z.number()]).default("30s"),
    })
    .prefault({}),
});

export interface LoadOptions {
  /** Processor and exporter types to validate against; none when omitted. */
  registry?: ComponentRegistry;
  env?: NodeJS.ProcessEnv;
  /** Overrides data_dir from the file (the --data-dir flag). */
  dataDir?: string;
  /** Base for relative paths; defaults to the working directory. */
  cwd?: string;
}

export function loadConfigFile(path: string, options: LoadOptions = {}): Config {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new SluiceError(
      ErrorCode.INVALID_CONFIG,
      `cannot read config file ${path}: ${(err as Error).message}`,
    );
  }
  return parseConfigText(text, { ...options, source: path });
}

export function parseConfigText(text: string, options: LoadOptions & { source?: string } = {}): Config {
  let doc: unknown;
  try {
    doc = parseYaml(text) ?? {};
  } catch (err) {
    throw new SluiceError(
      ErrorCode.INVALID_CONFIG,
      `${options.source ?? "config"}: invalid YAML: ${(err as Error).message}`,
    );
  }
  return buildConfig(doc, options);
}

export function buildConfig(doc: unknown, options: LoadOptions = {}): Config {
  const substituted = substituteEnv(doc, options.env ?? process.env);
  const parsed = configSchema.safeParse(substituted);
  if (!parsed.success) throw configError(parsed.error.issues);
  const raw = parsed.data;
  const problems: string[] = [];
  const activeReceivers: ReceiverInstance[] = [];
  const used = new Set<string>();

  for (const [pipelineName, p] of Object.entries(raw.pipelines)) {
    if (!/^logs(\/[\w.-]+)?$/.test(pipelineName)) {
      problems.push(`pipelines.${pipelineName}: pipeline names are "logs" or "logs/<name>"`);
    }
    p.receivers.forEach((r, i) => {
      if (!(r in raw.receivers)) {
        problems.push(
          `pipelines.${pipelineName}.receivers[${i}]: "${r}" is not defined under receivers (defined: ${list(Object.keys(raw.receivers))})`,
        );
      }
      used.add(r);
    });
    p.processors.forEach((r, i) => {
      if (!(r in raw.processors)) {
        problems.push(
          `pipelines.${pipelineName}.processors[${i}]: "${r}" is not defined under processors (defined: ${list(Object.keys(raw.processors))})`,
        );
      }
    });
    p.exporters.forEach((r, i) => {
      if (!(r in raw.exporters)) {
        problems.push(
          `pipelines.${pipelineName}.exporters[${i}]: "${r}" is not defined under exporters (defined: ${list(Object.keys(raw.exporters))})`,
        );
      }
    });
  }

  for (const [name, value] of Object.entries(raw.receivers)) {
    const type = name.split("/")[0] as string;
    const schema = receiverSchemas[type as keyof typeof receiverSchemas] as z.ZodType | undefined;
    if (!schema) {
      problems.push(
        `receivers.${name}: unknown receiver type "${type}" (allowed: ${list(Object.keys(receiverSchemas))})`,
      );
      continue;
    }
    const r = schema.safeParse(value ?? {});
    if (!r.success) {
      problems.push(...formatIssues(r.error.issues, `receivers.${name}`));
      continue;
    }
    if (!used.has(name)) continue;
    if (type === "forward") {
      activeReceivers.push({ name, type: "forward", config: r.data as ForwardReceiverConfig });
    } else {
      activeReceivers.push({ name, type: "otlp", config: r.data as OtlpReceiverConfig });
    }
  }

  const workers = raw.gateway.workers;
  if (typeof workers === "number" && workers > 1 && raw.log.backend === "embedded") {
    problems.push(
      `gateway.workers: ${workers} worker processes need log.backend: kafka; the embedded log (SQLite) has one writer, so with it workers must be 1 (or "auto", which then means 1)`,
    );
  }

  const registry = options.registry ?? EMPTY_REGISTRY;
  const processorInstances = new Map<string, ProcessorInstance>();
  for (const [name, value] of Object.entries(raw.processors)) {
    const type = name.split("/")[0] as string;
    const factory = registry.processors.find((f) => f.type === type);
    if (!factory) {
      problems.push(
        `processors.${name}: unknown processor type "${type}" (allowed: ${list(registry.processors.map((f) => f.type))})`,
      );
      continue;
    }
    const r = factory.configSchema.safeParse(value ?? {});
    if (!r.success) problems.push(...formatIssues(r.error.issues, `processors.${name}`));
    else processorInstances.set(name, { name, factory, config: r.data });
  }
  const exporterInstances = new Map<string, ExporterInstance>();
  for (const [name, value] of Object.entries(raw.exporters)) {
    const type = name.split("/")[0] as string;
    const factory = registry.exporters.find((f) => f.type === type);
    if (!factory) {
      problems.push(
        `exporters.${name}: unknown exporter type "${type}" (allowed: ${list(registry.exporters.map((f) => f.type))})`,
      );
      continue;
    }
    const { batch, retry_on_failure, ...own } = (value ?? {}) as Record<string, unknown>;
    const common = exporterCommon.safeParse({ batch, retry_on_failure });
    const r = factory.configSchema.safeParse(own);
    if (!common.success) problems.push(...formatIssues(common.error.issues, `exporters.${name}`));
    if (!r.success) problems.push(...formatIssues(r.error.issues, `exporters.${name}`));
    if (!common.success || !r.success) continue;
    const ms = (v: string | number, path: string) => {
      const d = parseDuration(v);
      if (d === undefined)
        problems.push(`exporters.${name}.${path}: expected a duration such as 100ms, 5s or 1m`);
      return d ?? 0;
    };
    const bytes = (v: string | number, path: string) => {
      const b = parseSize(v);
      if (b === undefined || b < 1)
        problems.push(`exporters.${name}.${path}: expected a size such as 512KiB or 4MiB`);
      return b ?? 1;
    };
    const c = common.data;
    exporterInstances.set(name, {
      name,
      factory,
      config: r.data,
      batch: {
        maxRecords: c.batch.max_records,
        maxBytes: bytes(c.batch.max_bytes, "batch.max_bytes"),
        lingerMs: ms(c.batch.linger, "batch.linger"),
      },
      retry: {
        initialIntervalMs: ms(c.retry_on_failure.initial_interval, "retry_on_failure.initial_interval"),
        maxIntervalMs: ms(c.retry_on_failure.max_interval, "retry_on_failure.max_interval"),
      },
    });
  }

  if (problems.length) {
    throw new SluiceError(ErrorCode.INVALID_CONFIG, `invalid configuration:\n  - ${problems.join("\n  - ")}`);
  }
  const base = options.cwd ?? process.cwd();
  const dataDirText = options.dataDir ?? raw.data_dir;
  const dataDir = isAbsolute(dataDirText) ? dataDirText : resolve(base, dataDirText);
  return { ...raw, dataDir, activeReceivers, processorInstances, exporterInstances };
}

/**
 * How many processes run the gateway's receivers. "auto" means one per CPU
 * the process may use, but only with Kafka: the embedded log has a single
 * writer, so it always gets one.
 */
export function gatewayWorkers(
  config: Pick<RawConfig, "gateway" | "log">,
  cpus: number = availableParallelism(),
): number {
  const { workers } = config.gateway;
  if (workers !== "auto") return workers;
  return config.log.backend === "kafka" ? Math.max(1, cpus) : 1;
}

function list(names: string[]): string {
  return names.length ? names.join(", ") : "none";
}

function formatIssues(issues: readonly z.core.$ZodIssue[], prefix = ""): string[] {
  return issues.map((issue) => {
    const path = [prefix, ...issue.path.map((p) => (typeof p === "number" ? `[${p}]` : String(p)))]
      .filter(Boolean)
      .join(".")
      .replace(/\.\[/g, "[");
    return `${path || "(root)"}: ${issue.message}`;
  });
}

function configError(issues: readonly z.core.$ZodIssue[]): SluiceError {
  return new SluiceError(
    ErrorCode.INVALID_CONFIG,
    `invalid configuration:\n  - ${formatIssues(issues).join("\n  - ")}`,
  );
}
