/**
 * Exporter factories whose implementation (and its client library) is
 * imported only when an exporter of that type starts. The gateway role
 * validates every exporter's config but runs none, so it never pays for the
 * search, warehouse and S3 clients: about 100 MiB of resident memory per
 * process, which every gateway worker would otherwise carry.
 */
import type { z } from "zod";
import type {
  ComponentDeps,
  ExportBatch,
  Exporter,
  ExporterFactory,
  ExportResult,
} from "../../core/pipeline/component.js";
import { sinkUnavailable } from "./codes.js";

interface LazyFactoryOptions<S extends z.ZodType> {
  type: string;
  configSchema: S;
  /** Imports the module with the real factory. */
  load: () => Promise<ExporterFactory<S>>;
  /** The real exporter answers SQL (`query`), as the embedded warehouse does. */
  queryable?: boolean;
}

class LazyExporter<S extends z.ZodType> implements Exporter {
  private inner: Exporter | undefined;

  constructor(
    readonly name: string,
    private readonly config: z.output<S>,
    private readonly deps: ComponentDeps,
    private readonly load: () => Promise<ExporterFactory<S>>,
  ) {}

  async start(): Promise<void> {
    const factory = await this.load();
    this.inner = factory.create(this.name, this.config, this.deps);
    await this.inner.start();
  }

  write(batch: ExportBatch): Promise<ExportResult> {
    return this.started().write(batch);
  }

  async shutdown(): Promise<void> {
    await this.inner?.shutdown();
  }

  protected started(): Exporter {
    if (!this.inner) {
      throw sinkUnavailable(this.name, new Error("not started"));
    }
    return this.inner;
  }
}

/** Only a queryable type may look queryable: the admin endpoint routes SQL to the first that does. */
class QueryableLazyExporter<S extends z.ZodType> extends LazyExporter<S> {
  query(sql: string): Promise<unknown> {
    const inner = this.started() as Exporter & { query?: (sql: string) => Promise<unknown> };
    if (typeof inner.query !== "function") throw new Error(`exporter ${this.name} does not answer SQL`);
    return inner.query(sql);
  }
}

export function lazyExporterFactory<S extends z.ZodType>(options: LazyFactoryOptions<S>): ExporterFactory<S> {
  return {
    type: options.type,
    configSchema: options.configSchema,
    create: (name, config, deps) =>
      options.queryable
        ? new QueryableLazyExporter(name, config, deps, options.load)
        : new LazyExporter(name, config, deps, options.load),
  };
}
