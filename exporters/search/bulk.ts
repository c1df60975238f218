/**
 * `_bulk` request bodies and what each item of the answer means for the
 * exactly-once contract. Every document is sent as `create` with
 * `_id` = eventId, so a replayed record meets its earlier copy and comes back
 * as a 409 version conflict, which counts as stored.
 */
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { SinkCode } from "../common/codes.js";
import type { BulkItemResult, BulkResponseBody } from "./backend.js";

export interface BulkDoc {
  record: PipelineRecord;
  index: string;
  /** The action line and the source line, each ending with "\n". */
  lines: string;
  bytes: number;
}

export function bulkDoc(record: PipelineRecord, index: string, source: unknown): BulkDoc {
  const lines = `${JSON.stringify({ create: { _index: index, _id: record.eventId } })}\n${JSON.stringify(source)}\n`;
  return { record, index, lines, bytes: Buffer.byteLength(lines) };
}

/** Consecutive runs of documents whose bodies stay under maxBytes (a larger document goes alone). */
export function chunkDocs(docs: readonly BulkDoc[], maxBytes: number): BulkDoc[][] {
  const chunks: BulkDoc[][] = [];
  let current: BulkDoc[] = [];
  let size = 0;
  for (const d of docs) {
    if (current.length > 0 && size + d.bytes > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(d);
    size += d.bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export type ItemOutcome =
  | { kind: "stored" }
  | { kind: "retry"; reason: string }
  | { kind: "failed"; code: string; reason: string };

/** Errors that come from the document's content meeting the mapping: the record can never be stored as it is. */
const MAPPING_ERRORS = new Set([
  "mapper_parsing_exception",
  "document_parsing_exception",
  "strict_dynamic_mapping_exception",
  "illegal_argument_exception",
  "mapper_exception",
  "x_content_parse_exception",
  "json_parse_exception",
]);

/**
 * Errors about the target index's state rather than the document (closed,
 * read-only, missing with auto-creation off, no permission): an operator can
 * fix them, so the item is retried instead of dead-lettered.
 */
const INDEX_STATE_ERRORS = new Set([
  "cluster_block_exception",
  "index_closed_exception",
  "index_not_found_exception",
  "security_exception",
  "unavailable_shards_exception",
  "es_rejected_execution_exception",
  "opensearch_rejected_execution_exception",
  "circuit_breaking_exception",
  "process_cluster_event_timeout_exception",
]);

function itemReason(item: BulkItemResult): string {
  const e = item.error;
  if (!e) return `status ${item.status}`;
  let reason = `${e.type ?? "error"}: ${e.reason ?? ""}`.trimEnd();
  if (e.caused_by?.reason) reason += ` (caused by ${e.caused_by.type ?? "error"}: ${e.caused_by.reason})`;
  return reason;
}

export function classifyItem(item: BulkItemResult): ItemOutcome {
  const status = item.status;
  if (status >= 200 && status < 300) return { kind: "stored" };
  // create on an existing _id: this record was stored by an earlier attempt.
  if (status === 409) return { kind: "stored" };
  const type = item.error?.type ?? "";
  const reason = itemReason(item);
  if (status === 429 || status >= 500 || INDEX_STATE_ERRORS.has(type) || status === 401 || status === 403) {
    return { kind: "retry", reason };
  }
  if (MAPPING_ERRORS.has(type)) return { kind: "failed", code: SinkCode.SINK_MAPPING_CONFLICT, reason };
  if (status === 404) return { kind: "retry", reason };
  return { kind: "failed", code: SinkCode.SINK_REJECTED, reason };
}

/**
 * Pairs each document of a chunk with its outcome. An answer with a
 * different number of items than documents sent cannot be trusted for any of
 * them, so it is reported as undefined and the caller retries the chunk.
 */
export function bulkOutcomes(docs: readonly BulkDoc[], res: BulkResponseBody): ItemOutcome[] | undefined {
  if (!Array.isArray(res.items) || res.items.length !== docs.length) return undefined;
  const out: ItemOutcome[] = [];
  for (const entry of res.items) {
    const item = entry.create ?? entry.index ?? entry.update ?? entry.delete;
    out.push(item ? classifyItem(item) : { kind: "retry", reason: "bulk item without a result" });
  }
  return out;
}
