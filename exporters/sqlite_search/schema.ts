/**
 * The search store's SQLite schema. README.md next to this file explains the
 * choices; the short version: one row per event id and a contentless FTS5
 * index over text derived from it, changed together in one transaction.
 */

export const SCHEMA_VERSION = 1;

/**
 * The FTS index is contentless (content=''): the text lives once, in
 * `records`, and the index holds only tokens. The writer feeds it the text
 * to index (see fts-text.ts) in the same transaction as the row, and
 * contentless_delete lets the delete trigger remove a row's tokens by rowid
 * alone, without handing FTS5 the exact text it once indexed, as an
 * external-content index would need.
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS records (
  seq             INTEGER PRIMARY KEY,
  event_id        TEXT    NOT NULL UNIQUE,
  time_unix_nano  INTEGER NOT NULL,
  service         TEXT    NOT NULL,
  severity_number INTEGER NOT NULL,
  severity_text   TEXT    NOT NULL,
  event_name      TEXT    NOT NULL,
  kind            TEXT    NOT NULL,
  trace_id        TEXT    NOT NULL,
  span_id         TEXT    NOT NULL,
  body            TEXT    NOT NULL,
  attributes      TEXT    NOT NULL,
  resource        TEXT    NOT NULL,
  scope           TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS records_time ON records (time_unix_nano);
CREATE INDEX IF NOT EXISTS records_service_time ON records (service, time_unix_nano);
CREATE VIRTUAL TABLE IF NOT EXISTS records_fts USING fts5 (
  body, attributes, service, event_name,
  content = '', contentless_delete = 1,
  tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS records_fts_delete AFTER DELETE ON records BEGIN
  DELETE FROM records_fts WHERE rowid = old.seq;
END;
`;
