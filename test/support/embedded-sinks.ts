/** Reads back what the embedded sinks hold, as records with event ids, to audit exactly-once delivery. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import Database from "better-sqlite3";
import { decodeEnvelopeRecords } from "../../core/pipeline/decode-envelope.js";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { otlpJsonLogsToProtobuf } from "../../gateway/otlp-json/otlp-json-to-protobuf.js";
import { ExportLogsServiceRequestSchema } from "../../proto/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js";
import { EnvelopeSchema } from "../../proto/gen/sluice/log/v1/envelope_pb.js";
import { readEmbedded } from "./read-log.js";

/** Every record in the embedded log's logs and events topics, by event id. */
export async function recordsInLog(logPath: string, topics: { logs: string; events: string }) {
  const out = new Map<string, PipelineRecord>();
  for (const [topic, kind] of [
    [topics.logs, "logs"],
    [topics.events, "events"],
  ] as const) {
    for (const m of await readEmbedded(logPath, topic)) {
      for (const r of decodeEnvelopeRecords(new Uint8Array(m.value), m, kind)) out.set(r.eventId, r);
    }
  }
  return out;
}

/** Count of each event id in the SQLite search store. */
export function searchStoreCounts(dbPath: string): Map<string, number> {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT event_id AS id, count(*) AS n FROM records GROUP BY event_id").all() as {
      id: string;
      n: number;
    }[];
    return new Map(rows.map((r) => [r.id, r.n]));
  } finally {
    db.close();
  }
}

function files(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

/** Decodes archive content (OTLP JSON lines) back into records, with the event ids the pipeline gave them. */
export function recordsFromOtlpJsonLines(text: string): PipelineRecord[] {
  const out: PipelineRecord[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const request = fromBinary(ExportLogsServiceRequestSchema, otlpJsonLogsToProtobuf(line));
    for (const rl of request.resourceLogs) {
      const envelope = toBinary(EnvelopeSchema, create(EnvelopeSchema, { resourceLogs: rl }));
      out.push(...decodeEnvelopeRecords(envelope, { topic: "archive", partition: 0, offset: 0n }, "logs"));
    }
  }
  return out;
}

/** Records found in archive objects (gzip OTLP JSON lines), with the object each came from. */
export function archiveRecords(root: string): { record: PipelineRecord; object: string }[] {
  const out: { record: PipelineRecord; object: string }[] = [];
  for (const object of files(root).filter((f) => f.endsWith(".jsonl.gz"))) {
    for (const record of recordsFromOtlpJsonLines(gunzipSync(readFileSync(object)).toString("utf8"))) {
      out.push({ record, object });
    }
  }
  return out;
}

export function countIds(ids: Iterable<string>): Map<string, number> {
  const m = new Map<string, number>();
  for (const id of ids) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
}

/** Asserts a sink holds exactly the expected ids, once each; returns a description of any difference. */
export function auditSink(
  expected: Set<string>,
  found: Map<string, number>,
): { missing: string[]; duplicated: string[]; unexpected: string[] } {
  return {
    missing: [...expected].filter((id) => !found.has(id)),
    duplicated: [...found].filter(([, n]) => n > 1).map(([id]) => id),
    unexpected: [...found.keys()].filter((id) => !expected.has(id)),
  };
}
