/**
 * The search exporter: one document per record in a data stream or daily
 * index, written with `_bulk` `create` and `_id` = eventId so replays are
 * absorbed by the server (409 = already stored). A batch resolves once every
 * document is acknowledged by the bulk API, which returns only after the
 * operation is in the translog of the primary and its in-sync replicas; no
 * refresh is forced, as visibility to search is not durability.
 */
import { ErrorCode, SluiceError } from "../../core/errors.js";
import type { Logger } from "../../core/logging/logger.js";
import type {
  ComponentDeps,
  ExportBatch,
  Exporter,
  ExportResult,
  RecordFailure,
} from "../../core/pipeline/component.js";
import { SinkCode, SinkError, sinkShuttingDown, sinkUnavailable } from "../common/codes.js";
import { toSearchDocument } from "../common/json-value.js";
import { describeRequestFailure, type SearchBackend } from "./backend.js";
import { type BulkDoc, bulkDoc, bulkOutcomes, chunkDocs } from "./bulk.js";
import type { SearchConfig } from "./config.js";
import {
  defaultTemplateName,
  type IndexNaming,
  indexFor,
  indexPattern,
  sanitizeDataStreamPart,
} from "./index-name.js";
import { indexTemplate, type SearchFlavor } from "./template.js";

export interface SearchExporterOptions {
  flavor: SearchFlavor;
  /** Builds the client; tests pass a stand-in. */
  backend: (config: SearchConfig) => SearchBackend;
  /** Pause before re-sending items the server pushed back on; grows with each round. */
  retryBaseDelayMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SearchExporter implements Exporter {
  private backend: SearchBackend | undefined;
  private readonly naming: IndexNaming;
  private readonly logger: Logger;
  private readonly retryBaseDelayMs: number;
  private stopping = false;

  constructor(
    readonly name: string,
    private readonly config: SearchConfig,
    deps: ComponentDeps,
    private readonly options: SearchExporterOptions,
  ) {
    this.logger = deps.logger.child({ exporter: name });
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 200;
    this.naming = {
      logsIndex: config.logs_index,
      dataset: sanitizeDataStreamPart(config.dataset, "generic"),
      namespace: sanitizeDataStreamPart(config.namespace, "default"),
      mode: config.mode,
    };
  }

  /** The pattern the template matches and its name (exposed for tests and docs). */
  get templateTarget(): { name: string; pattern: string } {
    const pattern = indexPattern(this.naming);
    return { name: this.config.template.name ?? defaultTemplateName(pattern), pattern };
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.backend ??= this.options.backend(this.config);
    if (!this.config.template.install) return;
    const { name, pattern } = this.templateTarget;
    const body = indexTemplate({
      flavor: this.options.flavor,
      pattern,
      mode: this.config.mode,
      // A daily index name also matches the data stream pattern; the more specific template must win.
      priority: this.config.template.priority + (this.config.mode === "daily_index" ? 1 : 0),
      totalFieldsLimit: this.config.template.total_fields_limit,
      shards: this.config.template.shards,
      replicas: this.config.template.replicas,
      exporter: this.name,
    });
    try {
      await this.backend.putIndexTemplate(name, body);
    } catch (err) {
      throw this.startError(err, `installing index template ${name}`);
    }
    this.logger.info({ template: name, pattern }, "index template installed");
  }

  private startError(err: unknown, what: string): SluiceError {
    const f = describeRequestFailure(err);
    if (f.wrongProduct) {
      return new SluiceError(
        ErrorCode.INVALID_CONFIG,
        `${this.name}: ${what}: the server is not ${this.options.flavor === "elasticsearch" ? "Elasticsearch" : "OpenSearch"} (use the ${this.options.flavor === "elasticsearch" ? "opensearch" : "elasticsearch"} exporter type for it): ${f.reason}`,
        { cause: err },
      );
    }
    if (f.transport || f.status === undefined || f.status === 429 || f.status >= 500) {
      return sinkUnavailable(this.name, new Error(`${what}: ${f.reason}`, { cause: err }));
    }
    return new SluiceError(ErrorCode.INVALID_CONFIG, `${this.name}: ${what}: ${f.reason}`, { cause: err });
  }

  async write(batch: ExportBatch): Promise<ExportResult> {
    if (this.stopping) throw sinkShuttingDown(this.name);
    const backend = this.backend;
    if (!backend) throw new SluiceError(ErrorCode.INTERNAL, `${this.name}: write() before start()`);
    const failed: RecordFailure[] = [];
    let pending: BulkDoc[] = batch.records.map((r) =>
      bulkDoc(r, indexFor(r, this.naming), toSearchDocument(r)),
    );
    let lastReason = "";
    for (let round = 0; pending.length > 0; round++) {
      if (round > this.config.max_retries) {
        throw sinkUnavailable(
          this.name,
          new Error(`${pending.length} document(s) still refused after ${round} bulk rounds: ${lastReason}`),
        );
      }
      if (round > 0) await sleep(Math.min(this.retryBaseDelayMs * 2 ** (round - 1), 5_000));
      if (this.stopping) throw sinkShuttingDown(this.name);
      const retry: BulkDoc[] = [];
      for (const chunk of chunkDocs(pending, this.config.max_bulk_bytes)) {
        const r = await this.sendChunk(backend, chunk, failed);
        for (const d of r.retry) retry.push(d);
        if (r.reason) lastReason = r.reason;
      }
      pending = retry;
    }
    if (failed.length > 0) {
      this.logger.warn(
        { failed: failed.length, first: failed[0]?.reason, topic: batch.topic, partition: batch.partition },
        "documents refused by the server",
      );
    }
    return { failed: sortByBatchOrder(failed, batch) };
  }

  /** Sends one chunk; records refused for good go to failed, the ones to try again are returned. */
  private async sendChunk(
    backend: SearchBackend,
    chunk: BulkDoc[],
    failed: RecordFailure[],
  ): Promise<{ retry: BulkDoc[]; reason: string }> {
    let res: Awaited<ReturnType<SearchBackend["bulk"]>>;
    try {
      res = await backend.bulk(chunk.map((d) => d.lines).join(""));
    } catch (err) {
      const f = describeRequestFailure(err);
      if (f.status === 413) {
        if (chunk.length === 1) {
          const only = chunk[0] as BulkDoc;
          failed.push({
            record: only.record,
            code: SinkCode.SINK_REJECTED,
            reason: `document of ${only.bytes} bytes is larger than the server accepts in one request`,
          });
          return { retry: [], reason: "" };
        }
        const half = Math.ceil(chunk.length / 2);
        const a = await this.sendChunk(backend, chunk.slice(0, half), failed);
        const b = await this.sendChunk(backend, chunk.slice(half), failed);
        return { retry: [...a.retry, ...b.retry], reason: b.reason || a.reason };
      }
      if (f.status === 400 && !f.transport) {
        // The request as a whole was malformed: no replay of it can succeed.
        throw new SinkError(SinkCode.SINK_REJECTED, `${this.name}: bulk request refused: ${f.reason}`, {
          cause: err,
        });
      }
      // Down, overloaded, timing out, or refusing our credentials: the whole batch comes back later.
      throw sinkUnavailable(this.name, new Error(`bulk request failed: ${f.reason}`, { cause: err }));
    }
    const outcomes = bulkOutcomes(chunk, res);
    if (!outcomes) return { retry: chunk, reason: "bulk response did not list every item" };
    const retry: BulkDoc[] = [];
    let reason = "";
    outcomes.forEach((o, i) => {
      const doc = chunk[i] as BulkDoc;
      if (o.kind === "retry") {
        retry.push(doc);
        reason = o.reason;
      } else if (o.kind === "failed") {
        failed.push({ record: doc.record, code: o.code, reason: `${doc.index}: ${o.reason}` });
      }
    });
    return { retry, reason };
  }

  async shutdown(): Promise<void> {
    this.stopping = true;
    const backend = this.backend;
    this.backend = undefined;
    await backend?.close();
  }
}

function sortByBatchOrder(failed: RecordFailure[], batch: ExportBatch): RecordFailure[] {
  if (failed.length < 2) return failed;
  const pos = new Map(batch.records.map((r, i) => [r, i]));
  return failed.sort((a, b) => (pos.get(a.record) ?? 0) - (pos.get(b.record) ?? 0));
}
