/**
 * Lookup tables read from CSV (a header row, RFC 4180 quoting) or JSON (an
 * array of objects, or an object of objects keyed by the key). Each row is
 * turned into its final attribute list up front (columns chosen, prefix
 * applied) so enriching a record is a map lookup and a few assignments.
 */
import type { Value } from "../../core/pipeline/record.js";
import { parseJson } from "../common/json.js";
import { isKvlist, scalarText } from "../common/values.js";
import type { LookupConfig } from "./config.js";

export type Row = ReadonlyArray<readonly [string, Value]>;
export type Table = Map<string, Row>;

export class LookupFileError extends Error {
  override name = "LookupFileError";
}

/** Parses CSV text into rows of cells. Quoted cells may hold commas, quotes ("") and newlines. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const n = text.length;
  let atRowStart = true;
  while (pos < n) {
    let cell: string;
    if (text.charCodeAt(pos) === 0x22) {
      cell = "";
      let chunk = ++pos;
      for (;;) {
        const q = text.indexOf('"', pos);
        if (q < 0) throw new LookupFileError(`unterminated quoted cell in row ${rows.length + 1}`);
        if (text.charCodeAt(q + 1) === 0x22) {
          cell += text.slice(chunk, q + 1);
          pos = chunk = q + 2;
          continue;
        }
        cell += text.slice(chunk, q);
        pos = q + 1;
        break;
      }
      const c = text.charCodeAt(pos);
      if (pos < n && c !== 0x2c && c !== 0x0a && c !== 0x0d) {
        throw new LookupFileError(`text after a quoted cell in row ${rows.length + 1}`);
      }
    } else {
      const start = pos;
      for (; pos < n; pos++) {
        const c = text.charCodeAt(pos);
        if (c === 0x2c || c === 0x0a || c === 0x0d) break;
      }
      cell = text.slice(start, pos);
    }
    row.push(cell);
    atRowStart = false;
    const c = text.charCodeAt(pos);
    if (c === 0x2c) {
      pos++;
      if (pos === n) row.push("");
      continue;
    }
    if (c === 0x0d) pos++;
    if (text.charCodeAt(pos) === 0x0a) pos++;
    rows.push(row);
    row = [];
    atRowStart = true;
  }
  if (!atRowStart) rows.push(row);
  return rows;
}

class RowBuilder {
  private readonly keyColumn: string;
  private readonly columns: Set<string> | undefined;

  constructor(private readonly lookup: LookupConfig) {
    this.keyColumn = lookup.key_column ?? lookup.key;
    this.columns = lookup.columns ? new Set(lookup.columns) : undefined;
  }

  wants(column: string): boolean {
    return column !== this.keyColumn && (this.columns === undefined || this.columns.has(column));
  }

  attributeName(column: string): string {
    return this.lookup.prefix + column;
  }

  get key(): string {
    return this.keyColumn;
  }
}

function fromCsv(text: string, b: RowBuilder): Table {
  const rows = parseCsv(text);
  const header = rows[0];
  if (!header) throw new LookupFileError("the file is empty; a header row is required");
  const keyIndex = header.indexOf(b.key);
  if (keyIndex < 0)
    throw new LookupFileError(`the header has no "${b.key}" column (columns: ${header.join(", ")})`);
  const picked = header.flatMap((column, i) =>
    b.wants(column) ? [[i, b.attributeName(column)] as const] : [],
  );
  const table: Table = new Map();
  for (let r = 1; r < rows.length; r++) {
    const cells = rows[r] as string[];
    if (cells.length === 1 && cells[0] === "") continue;
    const key = cells[keyIndex];
    if (key === undefined || key === "") continue;
    const row: [string, Value][] = [];
    // Empty cells mean "no value" in a CSV export; they set nothing.
    for (const [i, name] of picked) {
      const cell = cells[i];
      if (cell !== undefined && cell !== "") row.push([name, cell]);
    }
    table.set(key, row);
  }
  return table;
}

function rowFromObject(obj: { [k: string]: Value }, b: RowBuilder): [string, Value][] {
  const row: [string, Value][] = [];
  for (const column in obj) {
    if (Object.hasOwn(obj, column) && b.wants(column))
      row.push([b.attributeName(column), obj[column] as Value]);
  }
  return row;
}

function fromJson(text: string, b: RowBuilder): Table {
  let doc: Value;
  try {
    doc = parseJson(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw new LookupFileError(`invalid JSON: ${(err as Error).message}`);
  }
  const table: Table = new Map();
  if (Array.isArray(doc)) {
    for (const item of doc) {
      if (!isKvlist(item)) throw new LookupFileError("every array element must be an object");
      const key = scalarText(Object.hasOwn(item, b.key) ? item[b.key] : undefined);
      if (key === undefined || key === "") continue;
      table.set(key, rowFromObject(item, b));
    }
    return table;
  }
  if (!isKvlist(doc)) throw new LookupFileError("expected an array of objects or an object keyed by the key");
  for (const key in doc) {
    if (!Object.hasOwn(doc, key)) continue;
    const item = doc[key];
    if (!isKvlist(item)) throw new LookupFileError(`the value for "${key}" must be an object`);
    table.set(key, rowFromObject(item, b));
  }
  return table;
}

/** Builds the table of one lookup from the file's text. @throws LookupFileError */
export function buildTable(text: string, path: string, lookup: LookupConfig): Table {
  const b = new RowBuilder(lookup);
  return /\.csv$/i.test(path) ? fromCsv(text, b) : fromJson(text, b);
}
