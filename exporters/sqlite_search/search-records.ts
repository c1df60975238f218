/**
 * Reading the search store, for `sluice search`. It opens the file read-only
 * and, thanks to WAL, reads a consistent snapshot while a gateway keeps
 * writing to it.
 */
import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import { ErrorCode, SluiceError } from "../../core/errors.js";
import type { JsonObject } from "../common/json-value.js";
import { isoMillis, MAX_INT64_NS } from "../common/time.js";

export interface SearchOptions {
  /**
   * What to look for, in body text, attribute values, service and event
   * name. Words must all appear (any order); "quoted words" must appear
   * together in that order; a word ending in * matches as a prefix.
   * Punctuation never breaks the query: `a-b "c` is fine. Empty or blank
   * text lists the newest records.
   */
  text: string;
  /** Only records of this service (exact resource service.name). */
  service?: string;
  /** Only records at or after this time, in milliseconds since the Unix epoch. */
  sinceMs?: number;
  /** At most this many rows; default 100. */
  limit?: number;
}

export interface SearchHit {
  eventId: string;
  /** Record time (see exporters/common/README.md) as exact nanoseconds. */
  timeUnixNano: string;
  /** The same instant as ISO-8601 with milliseconds. */
  timestamp: string;
  service: string;
  severityNumber: number;
  severityText: string;
  eventName: string;
  kind: string;
  traceId: string;
  spanId: string;
  /** String bodies as they are, structured ones as JSON text. */
  body: string;
  attributes: JsonObject;
  /** {attributes, dropped_attributes_count?, schema_url?} as in the search document. */
  resource: JsonObject;
  /** {name?, version?, attributes, dropped_attributes_count?, schema_url?}. */
  scope: JsonObject;
}

interface HitRow {
  event_id: string;
  time_unix_nano: bigint;
  service: string;
  severity_number: bigint;
  severity_text: string;
  event_name: string;
  kind: string;
  trace_id: string;
  span_id: string;
  body: string;
  attributes: string;
  resource: string;
  scope: string;
}

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 10_000;

/**
 * Characters unicode61 keeps in tokens: letters, marks, numbers and private
 * use. A term without any cannot match, so it is dropped rather than sent
 * as an empty phrase.
 */
const TOKEN_CHAR = /[\p{L}\p{M}\p{N}\p{Co}]/u;

function ftsString(s: string): string {
  return `"${s.replaceAll('"', '""')}"`;
}

/**
 * User text to an FTS5 query that cannot be a syntax error: every term and
 * phrase becomes an FTS5 string ("..." with quotes doubled), so operators,
 * column filters and stray quotes in the input are just text. Returns
 * undefined when nothing searchable is left.
 */
export function toFtsQuery(text: string): string | undefined {
  const parts: string[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (/\s/u.test(ch)) {
      i++;
      continue;
    }
    if (ch === '"') {
      // A phrase runs to the next quote, or to the end when there is none.
      const end = text.indexOf('"', i + 1);
      const phrase = end === -1 ? text.slice(i + 1) : text.slice(i + 1, end);
      i = end === -1 ? text.length : end + 1;
      if (TOKEN_CHAR.test(phrase)) parts.push(ftsString(phrase));
      continue;
    }
    let end = i;
    while (end < text.length && !/\s/u.test(text[end] as string) && text[end] !== '"') end++;
    let term = text.slice(i, end);
    i = end;
    const prefix = term.length > 1 && term.endsWith("*");
    if (prefix) term = term.replace(/\*+$/u, "");
    if (!TOKEN_CHAR.test(term)) continue;
    parts.push(prefix ? `${ftsString(term)} *` : ftsString(term));
  }
  return parts.length === 0 ? undefined : parts.join(" AND ");
}

function parseJsonObject(text: string): JsonObject {
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as JsonObject) : {};
  } catch {
    return {};
  }
}

function toHit(r: HitRow): SearchHit {
  return {
    eventId: r.event_id,
    timeUnixNano: r.time_unix_nano.toString(),
    timestamp: isoMillis(r.time_unix_nano),
    service: r.service,
    severityNumber: Number(r.severity_number),
    severityText: r.severity_text,
    eventName: r.event_name,
    kind: r.kind,
    traceId: r.trace_id,
    spanId: r.span_id,
    body: r.body,
    attributes: parseJsonObject(r.attributes),
    resource: parseJsonObject(r.resource),
    scope: parseJsonObject(r.scope),
  };
}

/**
 * Full-text search over the store at `path`, newest first. Opens the file
 * read-only for this one call.
 *
 * @throws SluiceError when the file does not exist or is not a search store.
 */
export function searchRecords(path: string, options: SearchOptions): SearchHit[] {
  if (!existsSync(path)) {
    throw new SluiceError(
      ErrorCode.INVALID_CONFIG,
      `no search store at ${path}: nothing has been written there yet, or the path is wrong`,
    );
  }
  const limit = Math.min(Math.max(Math.floor(options.limit ?? DEFAULT_LIMIT), 0), MAX_LIMIT);
  const since =
    options.sinceMs === undefined || !Number.isFinite(options.sinceMs) || options.sinceMs <= 0
      ? 0n
      : BigInt(Math.floor(options.sinceMs)) * 1_000_000n;
  if (since > MAX_INT64_NS || limit === 0) return [];
  const text = options.text.trim();
  const match = text === "" ? undefined : toFtsQuery(text);
  if (text !== "" && match === undefined) return [];

  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: 5000 });
  } catch (err) {
    throw new SluiceError(ErrorCode.INTERNAL, `cannot open search store ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    const where: string[] = ["r.time_unix_nano >= @since"];
    const params: Record<string, unknown> = { since, limit };
    if (match !== undefined) {
      where.push("r.seq IN (SELECT rowid FROM records_fts WHERE records_fts MATCH @match)");
      params.match = match;
    }
    if (options.service !== undefined) {
      where.push("r.service = @service");
      params.service = options.service;
    }
    const sql =
      "SELECT r.event_id, r.time_unix_nano, r.service, r.severity_number, r.severity_text, r.event_name," +
      " r.kind, r.trace_id, r.span_id, r.body, r.attributes, r.resource, r.scope" +
      ` FROM records r WHERE ${where.join(" AND ")}` +
      " ORDER BY r.time_unix_nano DESC, r.seq DESC LIMIT @limit";
    let rows: HitRow[];
    try {
      rows = db.prepare<Record<string, unknown>, HitRow>(sql).safeIntegers(true).all(params);
    } catch (err) {
      throw new SluiceError(ErrorCode.INTERNAL, `search in ${path} failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return rows.map(toHit);
  } finally {
    db.close();
  }
}
