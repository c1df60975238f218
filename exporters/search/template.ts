/**
 * The composable index template installed at start. Its mappings cover every
 * field of the shared search document (exporters/common/json-value.ts) with a
 * fixed type, and keep the three attribute maps and structured bodies from
 * growing the mapping: each is one `flattened` (Elasticsearch) or
 * `flat_object` (OpenSearch) field, so dotted keys and values whose type
 * differs from one record to the next never clash. README.md explains the
 * choice.
 */
import type { IndexTemplateBody } from "./backend.js";
import type { IndexMode } from "./index-name.js";

export type SearchFlavor = "opensearch" | "elasticsearch";

export interface TemplateOptions {
  flavor: SearchFlavor;
  pattern: string;
  mode: IndexMode;
  priority: number;
  totalFieldsLimit: number;
  shards?: number | undefined;
  replicas?: number | undefined;
  exporter: string;
}

/** Longest attribute or body value still indexed as one term; longer ones stay in _source only. */
export const KEYWORD_IGNORE_ABOVE = 1024;
/** Below Lucene's 32766-byte term limit even for four-byte UTF-8, so long values never fail a document. */
const FLATTENED_IGNORE_ABOVE = 8191;

function objectMapType(flavor: SearchFlavor): Record<string, unknown> {
  return flavor === "elasticsearch"
    ? { type: "flattened", ignore_above: FLATTENED_IGNORE_ABOVE, depth_limit: 32 }
    : { type: "flat_object" };
}

const keyword = { type: "keyword", ignore_above: KEYWORD_IGNORE_ABOVE };

export function documentMappings(flavor: SearchFlavor): Record<string, unknown> {
  const attrs = objectMapType(flavor);
  return {
    // Fields outside the document shape stay in _source but never reach the mapping.
    dynamic: false,
    properties: {
      "@timestamp": { type: "date_nanos" },
      time_unix_nano: { type: "unsigned_long" },
      observed_timestamp: { type: "date_nanos" },
      observed_time_unix_nano: { type: "unsigned_long" },
      event_id: { type: "keyword" },
      kind: { type: "keyword" },
      event_name: keyword,
      severity_text: keyword,
      severity_number: { type: "byte" },
      trace_id: { type: "keyword" },
      span_id: { type: "keyword" },
      flags: { type: "long" },
      body: {
        properties: {
          text: {
            type: "text",
            fields: { keyword },
          },
          structured: attrs,
        },
      },
      attributes: attrs,
      dropped_attributes_count: { type: "long" },
      resource: {
        properties: {
          attributes: attrs,
          dropped_attributes_count: { type: "long" },
          schema_url: keyword,
        },
      },
      scope: {
        properties: {
          name: keyword,
          version: keyword,
          attributes: attrs,
          dropped_attributes_count: { type: "long" },
          schema_url: keyword,
        },
      },
    },
  };
}

export function indexTemplate(o: TemplateOptions): IndexTemplateBody {
  const settings: Record<string, unknown> = {
    "index.mapping.total_fields.limit": o.totalFieldsLimit,
  };
  if (o.shards !== undefined) settings["index.number_of_shards"] = o.shards;
  if (o.replicas !== undefined) settings["index.number_of_replicas"] = o.replicas;
  const body: IndexTemplateBody = {
    index_patterns: [o.pattern],
    priority: o.priority,
    template: { settings, mappings: documentMappings(o.flavor) },
    _meta: { managed_by: "sluice", exporter: o.exporter, mode: o.mode },
  };
  if (o.mode === "data_stream") body.data_stream = {};
  return body;
}
