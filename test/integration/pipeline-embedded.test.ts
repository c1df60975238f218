/**
 * End to end with no services at all: SDK exporters → gateway → embedded
 * log → processors → the three embedded sinks (SQLite FTS5 search, DuckDB
 * warehouse, local archive). Each sink holds exactly the records routed to
 * it, once, with fields intact, even when a client sends a batch twice.
 */
import { join } from "node:path";
import type { ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildConfig } from "../../core/config/load-config.js";
import { silentLogger } from "../../core/logging/logger.js";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { registry } from "../../service/components.js";
import { type RunningService, startService } from "../../service/service.js";
import {
  archiveRecords,
  auditSink,
  countIds,
  recordsInLog,
  searchStoreCounts,
} from "../support/embedded-sinks.js";
import { createExporter, exportRecords, isSuccess, SDK_PROTOCOLS, sdkRecords } from "../support/sdk.js";

const ROUTED_PIPELINE = {
  processors: {
    dedup: {},
    route: {
      rules: [
        { name: "events-to-warehouse", when: { kind: "events" }, exporters: ["duckdb_warehouse"] },
        {
          name: "info-logs-to-search",
          when: { kind: "logs", severity_at_least: "INFO" },
          exporters: ["sqlite_search"],
        },
        { name: "all-to-archive", when: {}, exporters: ["file_archive"] },
      ],
    },
  },
  exporters: {
    sqlite_search: {},
    duckdb_warehouse: {},
    file_archive: {},
  },
};

/** Which sinks a record goes to under ROUTED_PIPELINE. */
function expectedSinks(r: PipelineRecord): string[] {
  const out = ["file_archive"];
  if (r.kind === "events") out.push("duckdb_warehouse");
  if (r.kind === "logs" && r.severityNumber >= 9) out.push("sqlite_search");
  return out;
}

async function waitForZeroLag(service: RunningService, timeoutMs = 90_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const lag = await service.lag();
    const total = lag.reduce((s, l) => s + l.lag, 0n);
    if (lag.length > 0 && total === 0n) return;
    if (Date.now() > end)
      throw new Error(
        `lag did not reach 0: ${JSON.stringify(lag, (_k, v) => (typeof v === "bigint" ? String(v) : v))}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("pipeline on embedded defaults", () => {
  let service: RunningService;
  let dataDir: string;
  let http: string;
  let grpc: string;

  beforeAll(async () => {
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    dataDir = mkdtempSync(join(tmpdir(), "sluice-e2e-embedded-"));
    const config = buildConfig(
      {
        receivers: {
          otlp: { protocols: { grpc: { endpoint: "127.0.0.1:0" }, http: { endpoint: "127.0.0.1:0" } } },
        },
        ...ROUTED_PIPELINE,
        pipelines: {
          logs: {
            receivers: ["otlp"],
            processors: ["dedup", "route"],
            exporters: ["sqlite_search", "duckdb_warehouse", "file_archive"],
          },
        },
        admin: { endpoint: "127.0.0.1:0" },
        telemetry: { log_level: "silent" },
      },
      { dataDir, registry },
    );
    service = await startService(config, ["gateway", "processor"], silentLogger);
    http = `http://${service.endpoints["otlp/http"]}`;
    grpc = service.endpoints["otlp/grpc"] ?? "";
  });

  afterAll(async () => service?.shutdown());

  it("lands every record exactly once in each sink it is routed to, with fields intact", async () => {
    const sent: ReadableLogRecord[] = [];
    for (const protocol of SDK_PROTOCOLS) {
      const records = await sdkRecords(`e2e-${protocol.replace("/", "-")}`, 60);
      const exporter = createExporter(protocol, { grpc, http });
      expect(isSuccess(await exportRecords(exporter, records))).toBe(true);
      if (protocol === "http/protobuf") {
        // The client resends the whole batch, as after a timeout.
        expect(isSuccess(await exportRecords(exporter, records))).toBe(true);
      }
      await exporter.shutdown();
      sent.push(...records);
    }
    await waitForZeroLag(service);

    const inLog = await recordsInLog(join(dataDir, "log", "log.db"), {
      logs: "sluice.logs",
      events: "sluice.events",
    });
    expect(inLog.size).toBe(sent.length);

    const expected = {
      sqlite_search: new Set<string>(),
      duckdb_warehouse: new Set<string>(),
      file_archive: new Set<string>(),
    };
    for (const r of inLog.values())
      for (const sink of expectedSinks(r)) expected[sink as keyof typeof expected].add(r.eventId);
    expect(expected.sqlite_search.size).toBeGreaterThan(0);
    expect(expected.duckdb_warehouse.size).toBeGreaterThan(0);

    const search = searchStoreCounts(join(dataDir, "search", "search.db"));
    expect(auditSink(expected.sqlite_search, search)).toEqual({
      missing: [],
      duplicated: [],
      unexpected: [],
    });

    const warehouse = service.runners.find((r) => r.exporter.name === "duckdb_warehouse")
      ?.exporter as unknown as {
      query(sql: string): Promise<{ columns: string[]; rows: unknown[][] }>;
    };
    const rows = (await warehouse.query("SELECT EventId, EventName, ServiceName, Body FROM otel_logs")).rows;
    expect(auditSink(expected.duckdb_warehouse, countIds(rows.map((r) => String(r[0]))))).toEqual({
      missing: [],
      duplicated: [],
      unexpected: [],
    });
    for (const row of rows) {
      const original = inLog.get(String(row[0])) as PipelineRecord;
      expect(row[1]).toBe(original.eventName);
      expect(row[2]).toBe(original.resource.attributes["service.name"]);
      expect(JSON.parse(String(row[3]))).toMatchObject({
        order: { id: (original.body as { order: { id: string } }).order.id },
      });
    }

    const archived = archiveRecords(join(dataDir, "archive"));
    expect(auditSink(expected.file_archive, countIds(archived.map((a) => a.record.eventId)))).toEqual({
      missing: [],
      duplicated: [],
      unexpected: [],
    });
    for (const { record, object } of archived) {
      const original = inLog.get(record.eventId) as PipelineRecord;
      expect(record.body).toEqual(original.body);
      expect(record.attributes).toEqual(original.attributes);
      expect(record.timeUnixNano).toBe(original.timeUnixNano);
      expect(record.traceId).toBe(original.traceId);
      expect(object).toMatch(
        /\/year=\d{4}\/month=\d{2}\/day=\d{2}\/hour=\d{2}\/[^/]+-p\d+-\d{20}\.jsonl\.gz$/,
      );
    }
    console.log(
      `embedded sinks: ${inLog.size} records sent (${sent.length} + a resent batch); search ${search.size}, warehouse ${rows.length}, archive ${archived.length}`,
    );
  });
});
