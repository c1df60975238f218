/**
 * The sinks under test: the exporter config each gets, how to ask each
 * whether a record is queryable yet (the latency probes), and how to read
 * back everything it holds (the count check after a drain).
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { type ClickHouseClient, createClient } from "@clickhouse/client";
import Database from "better-sqlite3";
import { recordsFromOtlpJsonLines, searchStoreCounts } from "../../test/support/embedded-sinks.js";
import { clickHouseIds, openSearchIds } from "../../test/support/real-sinks.js";

export const EMBEDDED_SINKS = ["sqlite_search", "duckdb_warehouse", "file_archive"] as const;
export const REAL_SINKS = ["opensearch", "clickhouse", "s3"] as const;
export type SinkType = (typeof EMBEDDED_SINKS)[number] | (typeof REAL_SINKS)[number];
export const BASELINE = "nop";

/** Where the sinks of one setup live. */
export interface SinkEnv {
  /** The processor's data directory (the embedded sinks' files). */
  dataDir: string;
  /** Admin endpoint of the processor running now (the warehouse answers SQL through it). */
  processAdmin: () => string | undefined;
  opensearch?: { url: string };
  clickhouse?: { url: string; database: string };
  s3?: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string; bucket: string };
}

/** Folder (archive) and key prefix (S3) the archive objects go under: the exporters' default. */
const ARCHIVE_PREFIX = "logs";

export function exporterConfig(sink: SinkType | typeof BASELINE, env: SinkEnv): Record<string, unknown> {
  switch (sink) {
    case "nop":
    case "sqlite_search":
    case "duckdb_warehouse":
    case "file_archive":
      return {};
    case "opensearch":
      return { endpoints: [need(env.opensearch, sink).url] };
    case "clickhouse": {
      const c = need(env.clickhouse, sink);
      return { endpoint: c.url, database: c.database };
    }
    case "s3": {
      const s = need(env.s3, sink);
      return {
        bucket: s.bucket,
        prefix: ARCHIVE_PREFIX,
        endpoint: s.endpoint,
        region: s.region,
        force_path_style: true,
        create_bucket: true,
        credentials: { access_key_id: s.accessKeyId, secret_access_key: s.secretAccessKey },
      };
    }
  }
}

function need<T>(v: T | undefined, sink: string): T {
  if (v === undefined) throw new Error(`${sink}: its server is not part of this setup`);
  return v;
}

/** Event ids are built by records.ts from [a-z0-9-] only; anything else is refused before it reaches SQL. */
function sqlList(ids: string[]): string {
  for (const id of ids) if (!/^[a-z0-9-]+$/.test(id)) throw new Error(`unexpected id ${JSON.stringify(id)}`);
  return ids.map((id) => `'${id}'`).join(", ");
}

/** UTC hour folder of a time, as the archive key layout writes it (exporters/common/hive-key.ts). */
export function hourFolder(ms: number): string {
  const d = new Date(ms);
  const p2 = (n: number) => String(n).padStart(2, "0");
  return `year=${d.getUTCFullYear()}/month=${p2(d.getUTCMonth() + 1)}/day=${p2(d.getUTCDate())}/hour=${p2(d.getUTCHours())}`;
}

function idsInObject(raw: Buffer, name: string): string[] {
  const text = (name.endsWith(".gz") && raw[0] === 0x1f ? gunzipSync(raw) : raw).toString("utf8");
  return recordsFromOtlpJsonLines(text).map((r) => r.eventId);
}

/** Whether records are queryable in a sink yet. */
export interface Visibility {
  /** Remembers what the sink holds before the probes start (objects already written are not read again). */
  prime(hours: string[]): Promise<void>;
  /**
   * Ids found queryable now: for sinks queried by id, those of `pending` that are; for
   * archives, every id in objects that appeared since the last call (under the given hour folders).
   */
  poll(pending: string[], hours: string[]): Promise<string[]>;
  close(): Promise<void>;
}

/** Most ids in one lookup; more pending ids take several lookups in one poll. */
export const LOOKUP_CHUNK = 500;

export function visibility(sink: SinkType, env: SinkEnv): Visibility {
  switch (sink) {
    case "sqlite_search":
      return new SqliteVisibility(join(env.dataDir, "search", "search.db"));
    case "duckdb_warehouse":
      return new DuckdbVisibility(env);
    case "file_archive":
      return new FolderVisibility(join(env.dataDir, "archive", ARCHIVE_PREFIX));
    case "opensearch":
      return new OpenSearchVisibility(need(env.opensearch, sink).url);
    case "clickhouse":
      return new ClickHouseVisibility(need(env.clickhouse, sink));
    case "s3":
      return new S3Visibility(need(env.s3, sink));
  }
}

/** What `sluice search` does: the search store opened read-only beside the writer (WAL). */
class SqliteVisibility implements Visibility {
  private db: Database.Database | undefined;
  constructor(private readonly path: string) {}

  async prime(): Promise<void> {}

  async poll(pending: string[]): Promise<string[]> {
    if (pending.length === 0) return [];
    this.db ??= new Database(this.path, { readonly: true, fileMustExist: true });
    const stmt = this.db
      .prepare("SELECT event_id FROM records WHERE event_id IN (SELECT value FROM json_each(?))")
      .pluck();
    return stmt.all(JSON.stringify(pending)) as string[];
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = undefined;
  }
}

/** DuckDB lets one process hold the file, so the running processor answers through its /api/sql. */
class DuckdbVisibility implements Visibility {
  constructor(private readonly env: SinkEnv) {}
  async prime(): Promise<void> {}

  async poll(pending: string[]): Promise<string[]> {
    if (pending.length === 0) return [];
    const r = await adminSql(
      this.env,
      `SELECT EventId FROM otel_logs WHERE EventId IN (${sqlList(pending)})`,
    );
    return r.rows.map((row) => String(row[0]));
  }

  async close(): Promise<void> {}
}

export async function adminSql(env: SinkEnv, sql: string): Promise<{ columns: string[]; rows: unknown[][] }> {
  const admin = env.processAdmin();
  if (!admin) throw new Error("no processor runs, so the warehouse cannot be asked");
  const res = await fetch(`${admin}/api/sql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sql }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await res.json()) as { columns: string[]; rows: unknown[][]; error?: string };
  if (!res.ok) throw new Error(`/api/sql ${res.status}: ${body.error}`);
  return body;
}

/** A search, so a document counts only once a refresh made it visible (a GET by id would see it earlier). */
class OpenSearchVisibility implements Visibility {
  constructor(private readonly url: string) {}
  async prime(): Promise<void> {}

  async poll(pending: string[]): Promise<string[]> {
    if (pending.length === 0) return [];
    const res = await fetch(
      `${this.url}/logs-*/_search?allow_no_indices=true&ignore_unavailable=true&filter_path=hits.hits._id`,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ size: pending.length, _source: false, query: { ids: { values: pending } } }),
        signal: AbortSignal.timeout(30_000),
      },
    );
    if (!res.ok) throw new Error(`OpenSearch search ${res.status}: ${(await res.text()).slice(0, 300)}`);
    const body = (await res.json()) as { hits?: { hits?: { _id: string }[] } };
    return (body.hits?.hits ?? []).map((h) => h._id);
  }

  async close(): Promise<void> {}
}

class ClickHouseVisibility implements Visibility {
  private readonly client: ClickHouseClient;
  constructor(c: { url: string; database: string }) {
    this.client = createClient({ url: c.url, database: c.database, request_timeout: 30_000 });
  }
  async prime(): Promise<void> {}

  async poll(pending: string[]): Promise<string[]> {
    if (pending.length === 0) return [];
    const rs = await this.client.query({
      query: "SELECT EventId FROM otel_logs WHERE EventId IN {ids:Array(String)}",
      query_params: { ids: pending },
      format: "JSONEachRow",
    });
    return ((await rs.json()) as { EventId: string }[]).map((r) => r.EventId);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** Archive objects on disk: new files under the probes' hour folders are read as they appear. */
class FolderVisibility implements Visibility {
  private readonly known = new Set<string>();
  constructor(private readonly root: string) {}

  private async names(hours: string[]): Promise<string[]> {
    const out: string[] = [];
    for (const h of hours) {
      const dir = join(this.root, h);
      const entries = await readdir(dir).catch(() => [] as string[]);
      // Dot-files are an object still being written (renamed into place when complete).
      for (const e of entries) if (!e.startsWith(".")) out.push(join(dir, e));
    }
    return out;
  }

  async prime(hours: string[]): Promise<void> {
    for (const n of await this.names(hours)) this.known.add(n);
  }

  async poll(_pending: string[], hours: string[]): Promise<string[]> {
    const found: string[] = [];
    for (const n of await this.names(hours)) {
      if (this.known.has(n)) continue;
      this.known.add(n);
      found.push(...idsInObject(await readFile(n), n));
    }
    return found;
  }

  async close(): Promise<void> {}
}

/** Archive objects in S3: list the probes' hour prefixes, get what is new (or has a new ETag). */
class S3Visibility implements Visibility {
  private readonly s3: S3Client;
  private readonly known = new Map<string, string>();
  constructor(private readonly t: NonNullable<SinkEnv["s3"]>) {
    this.s3 = s3Client(t);
  }

  private async list(hours: string[]): Promise<{ key: string; etag: string }[]> {
    const out: { key: string; etag: string }[] = [];
    for (const h of hours) {
      let token: string | undefined;
      for (let page = 0; page < 1000; page++) {
        const res = await this.s3.send(
          new ListObjectsV2Command({
            Bucket: this.t.bucket,
            Prefix: `${ARCHIVE_PREFIX}/${h}/`,
            ContinuationToken: token,
          }),
        );
        for (const o of res.Contents ?? []) out.push({ key: o.Key ?? "", etag: o.ETag ?? "" });
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
        if (!token) break;
      }
    }
    return out;
  }

  async prime(hours: string[]): Promise<void> {
    for (const o of await this.list(hours)) this.known.set(o.key, o.etag);
  }

  async poll(_pending: string[], hours: string[]): Promise<string[]> {
    const found: string[] = [];
    for (const o of await this.list(hours)) {
      if (this.known.get(o.key) === o.etag) continue;
      this.known.set(o.key, o.etag);
      found.push(...idsInObject(await getObject(this.s3, this.t.bucket, o.key), o.key));
    }
    return found;
  }

  async close(): Promise<void> {
    this.s3.destroy();
  }
}

function s3Client(t: NonNullable<SinkEnv["s3"]>): S3Client {
  return new S3Client({
    endpoint: t.endpoint,
    region: t.region,
    forcePathStyle: true,
    credentials: { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey },
  });
}

async function getObject(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(
    await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

/** What a sink holds: every event id with its count, or (the warehouse over SQL) row and distinct-id counts. */
export type Holdings =
  | { kind: "ids"; counts: Map<string, number> }
  | { kind: "counts"; rows: number; distinct: number };

function countIds(ids: Iterable<string>, into = new Map<string, number>()): Map<string, number> {
  for (const id of ids) into.set(id, (into.get(id) ?? 0) + 1);
  return into;
}

/** Reads back a whole sink. `idPrefix` narrows the warehouse's count to the preloaded records. */
export async function holdings(sink: SinkType, env: SinkEnv, idPrefix: string): Promise<Holdings> {
  switch (sink) {
    case "sqlite_search":
      return { kind: "ids", counts: searchStoreCounts(join(env.dataDir, "search", "search.db")) };
    case "duckdb_warehouse": {
      if (!/^[a-z0-9-]+$/.test(idPrefix)) throw new Error(`unexpected id prefix ${idPrefix}`);
      const r = await adminSql(
        env,
        `SELECT count(*) AS n, count(DISTINCT EventId) AS d FROM otel_logs WHERE starts_with(EventId, '${idPrefix}')`,
      );
      const row = r.rows[0] ?? [0, 0];
      return { kind: "counts", rows: Number(row[0]), distinct: Number(row[1]) };
    }
    case "file_archive": {
      const root = join(env.dataDir, "archive", ARCHIVE_PREFIX);
      const files = (await readdir(root, { recursive: true }).catch(() => [] as string[])).filter(
        (f) => f.endsWith(".jsonl.gz") && !f.split("/").pop()?.startsWith("."),
      );
      const counts = new Map<string, number>();
      for (const f of files) countIds(idsInObject(await readFile(join(root, f)), f), counts);
      return { kind: "ids", counts };
    }
    case "opensearch":
      return { kind: "ids", counts: await openSearchIds(need(env.opensearch, sink).url, "logs-*") };
    case "clickhouse": {
      const c = need(env.clickhouse, sink);
      return { kind: "ids", counts: await clickHouseIds(c.url, c.database) };
    }
    case "s3": {
      const t = need(env.s3, sink);
      const s3 = s3Client(t);
      const counts = new Map<string, number>();
      try {
        let token: string | undefined;
        for (let page = 0; page < 100_000; page++) {
          const res = await s3.send(
            new ListObjectsV2Command({
              Bucket: t.bucket,
              Prefix: `${ARCHIVE_PREFIX}/`,
              ContinuationToken: token,
            }),
          );
          for (const o of res.Contents ?? []) {
            const key = o.Key ?? "";
            countIds(idsInObject(await getObject(s3, t.bucket, key), key), counts);
          }
          token = res.IsTruncated ? res.NextContinuationToken : undefined;
          if (!token) break;
        }
      } finally {
        s3.destroy();
      }
      return { kind: "ids", counts };
    }
  }
}
