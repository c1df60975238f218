/**
 * Target index names, following the data stream naming scheme the
 * OpenTelemetry Collector's Elasticsearch exporter uses:
 * `logs-{dataset}-{namespace}`, where dataset and namespace come from the
 * `data_stream.dataset` / `data_stream.namespace` attributes (record first,
 * then scope, then resource) or the configured defaults.
 *
 * Names are a pure function of the record, so a replayed record always goes
 * to the same index (or data stream), which is what makes `_id` + `create`
 * deduplicate.
 */
import type { Attributes, PipelineRecord } from "../../core/pipeline/record.js";
import { recordTimeUnixNano, utcParts } from "../common/time.js";

export const INDEX_PLACEHOLDERS = ["{dataset}", "{namespace}"] as const;

export type IndexMode = "data_stream" | "daily_index";

export interface IndexNaming {
  logsIndex: string;
  dataset: string;
  namespace: string;
  mode: IndexMode;
}

/** Characters neither a dataset nor a namespace may hold: index-name specials, and "-" which separates them. */
const DATA_STREAM_PART_DISALLOWED = /[\\/*?"<>| ,#:-]/g;
const MAX_PART_LENGTH = 100;
/** Index names may not contain these at all. */
const INDEX_DISALLOWED = /[\\/*?"<>| ,#:]/;

/** Lower-cases and replaces what an index name cannot hold; falls back when nothing is left. */
export function sanitizeDataStreamPart(value: string, fallback: string): string {
  const s = value.toLowerCase().replace(DATA_STREAM_PART_DISALLOWED, "_").slice(0, MAX_PART_LENGTH);
  return s === "" ? fallback : s;
}

/** A problem with a `logs_index` value, or undefined when it is usable. */
export function validateIndexTemplate(template: string): string | undefined {
  const unknown = template
    .match(/\{[^}]*\}/g)
    ?.filter((p) => !(INDEX_PLACEHOLDERS as readonly string[]).includes(p));
  if (unknown?.length) {
    return `logs_index: unknown placeholder ${unknown[0]} (known: ${INDEX_PLACEHOLDERS.join(", ")})`;
  }
  const fixed = INDEX_PLACEHOLDERS.reduce((s, p) => s.replaceAll(p, ""), template);
  if (fixed.length > 40) return "logs_index: at most 40 characters besides the placeholders";
  const sample = INDEX_PLACEHOLDERS.reduce((s, p) => s.replaceAll(p, "x"), template);
  if (sample === "") return "logs_index: must not be empty";
  if (sample !== sample.toLowerCase()) return "logs_index: index names must be lowercase";
  if (INDEX_DISALLOWED.test(sample)) return 'logs_index: must not contain \\ / * ? " < > | , # : or spaces';
  if (/^[-_+.]/.test(sample)) return "logs_index: must not start with -, _, + or .";
  return undefined;
}

function stringAttr(attrs: Attributes, key: string): string | undefined {
  const v = attrs[key];
  return typeof v === "string" && v !== "" ? v : undefined;
}

function routingAttr(r: PipelineRecord, key: string): string | undefined {
  return (
    stringAttr(r.attributes, key) ??
    stringAttr(r.scope.attributes, key) ??
    stringAttr(r.resource.attributes, key)
  );
}

/** `YYYY.MM.DD` in UTC, of the same clamped time the document's @timestamp shows. */
export function dailySuffix(timeUnixNano: bigint): string {
  const d = utcParts(timeUnixNano);
  const mm = String(d.getUTCMonth() + 1).padStart(2, "0");
  const dd = String(d.getUTCDate()).padStart(2, "0");
  return `${String(d.getUTCFullYear()).padStart(4, "0")}.${mm}.${dd}`;
}

/** The data stream or index a record is written to. */
export function indexFor(r: PipelineRecord, naming: IndexNaming): string {
  let name = naming.logsIndex;
  if (name.includes("{dataset}")) {
    const raw = routingAttr(r, "data_stream.dataset");
    name = name.replaceAll(
      "{dataset}",
      raw === undefined ? naming.dataset : sanitizeDataStreamPart(raw, naming.dataset),
    );
  }
  if (name.includes("{namespace}")) {
    const raw = routingAttr(r, "data_stream.namespace");
    name = name.replaceAll(
      "{namespace}",
      raw === undefined ? naming.namespace : sanitizeDataStreamPart(raw, naming.namespace),
    );
  }
  if (naming.mode === "daily_index") name = `${name}-${dailySuffix(recordTimeUnixNano(r))}`;
  return name;
}

/** The index pattern the installed template must match. */
export function indexPattern(naming: Pick<IndexNaming, "logsIndex" | "mode">): string {
  const base = INDEX_PLACEHOLDERS.reduce((s, p) => s.replaceAll(p, "*"), naming.logsIndex).replace(
    /\*+/g,
    "*",
  );
  return naming.mode === "daily_index" ? `${base}-*` : base;
}

/** A template name derived from the pattern, so exporters writing to the same pattern share one template. */
export function defaultTemplateName(pattern: string): string {
  return `sluice.${pattern.replaceAll("*", "_")}`;
}
