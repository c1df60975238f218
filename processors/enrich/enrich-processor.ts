/**
 * Adds static attributes to records, and attributes looked up in CSV or
 * JSON tables by a resource or record attribute. A resource lookup writes
 * to the resource (shared by the records of one envelope, and the same for
 * all of them), a record lookup to the record.
 *
 * Tables are read at creation, so a missing or broken file fails start-up,
 * and re-read when the file's mtime, size or inode changes (polled every
 * reload_interval). A file that becomes unreadable or malformed keeps the
 * last good table in use and logs one warning per bad version.
 */
import { readFileSync, statSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { ErrorCode, SluiceError } from "../../core/errors.js";
import type { Logger } from "../../core/logging/logger.js";
import type { BatchContext, ComponentDeps, Processor } from "../../core/pipeline/component.js";
import type { Attributes, PipelineRecord, ResourceInfo, Value } from "../../core/pipeline/record.js";
import { cloneValue, configValue, ownValue, scalarText, setAttribute } from "../common/values.js";
import { ProcessorStats } from "../metrics.js";
import type { EnrichConfig, LookupConfig } from "./config.js";
import { buildTable, type Row, type Table } from "./lookup-table.js";

function fileSignature(s: { mtimeNs: bigint; size: bigint; ino: bigint }): string {
  return `${s.mtimeNs}:${s.size}:${s.ino}`;
}

/** Sets each pair unless the key is present (or always, with overwrite); arrays and kvlists are copied. */
function apply(attrs: Attributes, row: Row, overwrite: boolean): void {
  for (let i = 0; i < row.length; i++) {
    const [key, value] = row[i] as readonly [string, Value];
    if (overwrite || !Object.hasOwn(attrs, key)) setAttribute(attrs, key, cloneValue(value));
  }
}

class Lookup {
  readonly path: string;
  table: Table;
  signature = "";
  /** Signature of the last version that failed to load, so it is reported once. */
  failedSignature = "";
  /** The resource last enriched with the current table; records of one envelope come together. */
  lastResource: ResourceInfo | undefined;
  private loading = false;

  constructor(
    readonly config: LookupConfig,
    processor: string,
    private readonly logger: Logger,
  ) {
    this.path = resolve(process.cwd(), config.file);
    let text: string;
    try {
      const before = fileSignature(statSync(this.path, { bigint: true }));
      text = readFileSync(this.path, "utf8");
      this.signature = before;
    } catch (err) {
      throw new SluiceError(
        ErrorCode.INVALID_CONFIG,
        `processors.${processor}: cannot read lookup file ${this.path}: ${(err as Error).message}`,
      );
    }
    try {
      this.table = buildTable(text, this.path, config);
    } catch (err) {
      throw new SluiceError(
        ErrorCode.INVALID_CONFIG,
        `processors.${processor}: lookup file ${this.path}: ${(err as Error).message}`,
      );
    }
  }

  /** Re-reads the file if it changed since the last load; never throws. */
  async refresh(): Promise<void> {
    if (this.loading) return;
    this.loading = true;
    try {
      const before = fileSignature(await stat(this.path, { bigint: true }));
      if (before === this.signature || before === this.failedSignature) return;
      const text = await readFile(this.path, "utf8");
      // A writer still busy with the file changes its signature; try again next tick.
      if (fileSignature(await stat(this.path, { bigint: true })) !== before) return;
      try {
        this.table = buildTable(text, this.path, this.config);
      } catch (err) {
        this.failedSignature = before;
        this.logger.warn(
          { file: this.path, err: (err as Error).message },
          "lookup file is malformed; keeping the last good table",
        );
        return;
      }
      this.signature = before;
      this.failedSignature = "";
      this.lastResource = undefined;
      this.logger.info({ file: this.path, rows: this.table.size }, "lookup file reloaded");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "error";
      if (this.failedSignature !== code) {
        this.failedSignature = code;
        this.logger.warn(
          { file: this.path, err: (err as Error).message },
          "lookup file is unreadable; keeping the last good table",
        );
      }
    } finally {
      this.loading = false;
    }
  }
}

export class EnrichProcessor implements Processor {
  private readonly statics: Row;
  private readonly overwrite: boolean;
  private readonly lookups: Lookup[];
  private readonly reloadMs: number;
  private timer: NodeJS.Timeout | undefined;
  private readonly stats: ProcessorStats;

  constructor(
    readonly name: string,
    config: EnrichConfig,
    deps: ComponentDeps,
  ) {
    this.statics = Object.entries(config.attributes).map(([k, v]) => [k, configValue(v)] as const);
    this.overwrite = config.overwrite;
    const logger = deps.logger.child({ processor: name });
    this.lookups = config.lookups.map((l) => new Lookup(l, name, logger));
    this.reloadMs = config.reload_interval;
    this.stats = new ProcessorStats(deps.metrics.registry, name);
  }

  async start(): Promise<void> {
    if (this.lookups.length === 0 || this.timer || this.reloadMs <= 0) return;
    this.timer = setInterval(() => {
      for (const lookup of this.lookups) void lookup.refresh();
    }, this.reloadMs);
    this.timer.unref();
  }

  async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Checks every lookup file now (what the timer does); for tests and admin hooks. */
  async reload(): Promise<void> {
    await Promise.all(this.lookups.map((l) => l.refresh()));
  }

  process(records: PipelineRecord[], _ctx: BatchContext): PipelineRecord[] {
    this.stats.processed(records.length);
    const statics = this.statics;
    for (let i = 0; i < records.length; i++) {
      const r = records[i] as PipelineRecord;
      if (statics.length > 0) apply(r.attributes, statics, this.overwrite);
      for (let j = 0; j < this.lookups.length; j++) this.lookUp(r, this.lookups[j] as Lookup);
    }
    return records;
  }

  private lookUp(r: PipelineRecord, lookup: Lookup): void {
    if (lookup.config.from === "resource") {
      const resource = r.resource;
      if (resource === lookup.lastResource) return;
      lookup.lastResource = resource;
      const row = this.row(lookup, resource.attributes);
      if (row) apply(resource.attributes, row, this.overwrite);
      return;
    }
    const row = this.row(lookup, r.attributes);
    if (row) apply(r.attributes, row, this.overwrite);
  }

  private row(lookup: Lookup, attrs: Attributes): Row | undefined {
    const key = scalarText(ownValue(attrs, lookup.config.key));
    return key === undefined ? undefined : lookup.table.get(key);
  }
}
