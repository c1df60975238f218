/**
 * The embedded archive: OTLP/JSON lines in a local folder, one object per
 * hour bucket of a batch, named after the batch's first offset. A replay of
 * the batch starts at the same offset, so it writes the same names and
 * replaces the objects instead of adding copies; each object is written to
 * a temporary file, synced and renamed into place, so a crash never leaves
 * a partial object under its final name.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { z } from "zod";
import { ErrorCode, SluiceError } from "../../core/errors.js";
import type {
  ComponentDeps,
  ExportBatch,
  Exporter,
  ExporterFactory,
  ExportResult,
} from "../../core/pipeline/component.js";
import { sinkShuttingDown, sinkUnavailable } from "../common/codes.js";
import { archiveObjectKey, groupByHour } from "../common/hive-key.js";
import { toOtlpJsonLinesText } from "../common/otlp-json.js";

const gzipAsync = promisify(gzip);

export const fileArchiveConfigSchema = z.strictObject({
  /** Root folder; default <data_dir>/archive. */
  path: z.string().min(1).optional(),
  /** Folder under the root that the year=... folders go in; "" for none. */
  prefix: z
    .string()
    .refine((p) => !p.split(/[\\/]/).includes(".."), "prefix must not contain .. segments")
    .default("logs"),
  compression: z.enum(["gzip", "none"]).default("gzip"),
});

export type FileArchiveConfig = z.output<typeof fileArchiveConfigSchema>;

export function defaultArchivePath(dataDir: string): string {
  return join(dataDir, "archive");
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class FileArchiveExporter implements Exporter {
  readonly name: string;
  readonly root: string;
  private readonly prefix: string;
  private readonly compression: FileArchiveConfig["compression"];
  /**
   * Folders whose own entry is known to be synced into their parent. A new
   * hour folder costs a few extra fsyncs once; after that an object costs
   * one file and one folder fsync.
   */
  private readonly durableDirs = new Set<string>();
  private readonly inflight = new Set<Promise<unknown>>();
  private closing = false;
  private started = false;

  constructor(name: string, config: FileArchiveConfig, deps: ComponentDeps) {
    this.name = name;
    this.root = resolve(config.path ?? defaultArchivePath(deps.dataDir));
    this.prefix = config.prefix;
    this.compression = config.compression;
  }

  get extension(): string {
    return this.compression === "gzip" ? "jsonl.gz" : "jsonl";
  }

  async start(): Promise<void> {
    if (this.closing) throw sinkShuttingDown(this.name);
    try {
      const created = await mkdir(this.root, { recursive: true });
      if (created !== undefined) {
        for (let d = this.root; ; d = dirname(d)) {
          await fsyncDir(dirname(d));
          if (d === created || dirname(d) === d) break;
        }
      }
    } catch (err) {
      throw sinkUnavailable(`${this.name}: cannot create ${this.root}`, err);
    }
    this.started = true;
  }

  write(batch: ExportBatch): Promise<ExportResult> {
    if (this.closing) return Promise.reject(sinkShuttingDown(this.name));
    if (!this.started) {
      return Promise.reject(new SluiceError(ErrorCode.INTERNAL, `${this.name}: write() before start()`));
    }
    const run = this.writeNow(batch);
    this.inflight.add(run);
    const forget = () => this.inflight.delete(run);
    run.then(forget, forget);
    return run;
  }

  /** Where the object for the hour holding `timeUnixNano` goes, relative to the root. */
  objectKey(batch: Pick<ExportBatch, "topic" | "partition" | "firstOffset">, timeUnixNano: bigint): string {
    return archiveObjectKey({
      prefix: this.prefix,
      timeUnixNano,
      topic: batch.topic,
      partition: batch.partition,
      firstOffset: batch.firstOffset,
      extension: this.extension,
    });
  }

  private async writeNow(batch: ExportBatch): Promise<ExportResult> {
    try {
      await Promise.all(
        groupByHour(batch.records).map(async (bucket) => {
          const text = toOtlpJsonLinesText(bucket.records);
          const data = this.compression === "gzip" ? await gzipAsync(text) : Buffer.from(text, "utf8");
          await this.writeObject(join(this.root, this.objectKey(batch, bucket.hourStartUnixNano)), data);
        }),
      );
    } catch (err) {
      throw sinkUnavailable(this.name, err);
    }
    return { failed: [] };
  }

  private async writeObject(target: string, data: Uint8Array): Promise<void> {
    const dir = dirname(target);
    await mkdir(dir, { recursive: true });
    // A name of its own per attempt: two writers of one key (a replay racing
    // a slow original) each rename a complete file, and the last one wins.
    const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
    try {
      const fh = await open(tmp, "wx", 0o644);
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
    await fsyncDir(dir);
    await this.makeDurable(dir);
  }

  /** Syncs each not-yet-known folder's entry into its parent, up to the root. */
  private async makeDurable(dir: string): Promise<void> {
    let d = dir;
    while (d !== this.root && !this.durableDirs.has(d)) {
      const parent = dirname(d);
      if (parent === d) break;
      await fsyncDir(parent);
      this.durableDirs.add(d);
      d = parent;
    }
  }

  async shutdown(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.inflight]);
  }
}

export const fileArchiveExporterFactory: ExporterFactory<typeof fileArchiveConfigSchema> = {
  type: "file_archive",
  configSchema: fileArchiveConfigSchema,
  create: (name, config, deps) => new FileArchiveExporter(name, config, deps),
};
