/**
 * A processor killed with kill -9 after a sink write and before the commit,
 * then restarted, replays the batch; every sink still holds each record
 * exactly once. The gateway and the processor run as separate processes
 * sharing the embedded log, as `sluice gateway` and `sluice process`.
 */
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { queryWarehouseFile } from "../../exporters/duckdb_warehouse/index.js";
import {
  archiveRecords,
  auditSink,
  countIds,
  recordsInLog,
  searchStoreCounts,
} from "../support/embedded-sinks.js";
import { freePort } from "../support/ports.js";
import { type Child, requireBuild, runSluice, stopChild, waitReady } from "../support/processes.js";
import { createExporter, exportRecords, isSuccess, sdkRecords } from "../support/sdk.js";

requireBuild();

const children: Child[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) await stopChild(c);
});

const EXPORTERS = ["sqlite_search", "duckdb_warehouse", "file_archive"] as const;

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), "sluice-crash-"));
  const [grpc, http, gwAdmin, procAdmin] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const base = [
    "receivers:",
    "  otlp:",
    "    protocols:",
    `      grpc: { endpoint: "127.0.0.1:${grpc}" }`,
    `      http: { endpoint: "127.0.0.1:${http}" }`,
    "exporters:",
    "  sqlite_search: {}",
    "  duckdb_warehouse: {}",
    "  file_archive: {}",
    "pipelines:",
    `  logs: { receivers: [otlp], exporters: [${EXPORTERS.join(", ")}] }`,
    "telemetry: { log_level: warn }",
  ];
  const gatewayConfig = join(dir, "gateway.yaml");
  const processConfig = join(dir, "process.yaml");
  writeFileSync(gatewayConfig, [...base, `admin: { endpoint: "127.0.0.1:${gwAdmin}" }`].join("\n"));
  writeFileSync(processConfig, [...base, `admin: { endpoint: "127.0.0.1:${procAdmin}" }`].join("\n"));
  return {
    dir,
    dataDir: join(dir, "data"),
    gatewayConfig,
    processConfig,
    http: `http://127.0.0.1:${http}`,
    grpc: `127.0.0.1:${grpc}`,
    gwAdmin: `http://127.0.0.1:${gwAdmin}`,
    procAdmin: `http://127.0.0.1:${procAdmin}`,
  };
}

async function totalLag(procAdmin: string): Promise<bigint | undefined> {
  const res = await fetch(`${procAdmin}/api/lag`).catch(() => undefined);
  if (!res?.ok) return undefined;
  const { lag } = (await res.json()) as { lag: { lag: string }[] };
  return lag.length ? lag.reduce((s, l) => s + BigInt(l.lag), 0n) : undefined;
}

describe("processor killed between a sink write and the commit", () => {
  for (const victim of EXPORTERS) {
    it(`replays after kill -9 following a ${victim} write, and every sink holds each record once`, async () => {
      const s = await setup();
      const gateway = runSluice(["gateway", "--config", s.gatewayConfig, "--data-dir", s.dataDir]);
      children.push(gateway);
      await waitReady(s.gwAdmin, gateway);

      const records = await sdkRecords(`crash-${victim}`, 200);
      const exporter = createExporter("http/protobuf", s);
      for (let i = 0; i < records.length; i += 50) {
        expect(isSuccess(await exportRecords(exporter, records.slice(i, i + 50)))).toBe(true);
      }
      await exporter.shutdown();

      const marker = join(s.dir, "failpoint-fired");
      const env = { SLUICE_FAILPOINT_KILL_AFTER_WRITE: `${victim}:${marker}` };
      const first = runSluice(["process", "--config", s.processConfig, "--data-dir", s.dataDir], env);
      children.push(first);
      const ended = await first.exited;
      expect(ended.signal, first.output()).toBe("SIGKILL");
      expect(existsSync(marker)).toBe(true);

      const second = runSluice(["process", "--config", s.processConfig, "--data-dir", s.dataDir], env);
      children.push(second);
      await waitReady(s.procAdmin, second);
      const deadline = Date.now() + 60_000;
      while ((await totalLag(s.procAdmin)) !== 0n) {
        if (Date.now() > deadline) throw new Error(`lag never reached 0:\n${second.output()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      await stopChild(second);
      await stopChild(gateway);

      const inLog = await recordsInLog(join(s.dataDir, "log", "log.db"), {
        logs: "sluice.logs",
        events: "sluice.events",
      });
      expect(inLog.size).toBe(records.length);
      const all = new Set(inLog.keys());
      const clean = { missing: [], duplicated: [], unexpected: [] };
      expect(auditSink(all, searchStoreCounts(join(s.dataDir, "search", "search.db")))).toEqual(clean);
      const wh = await queryWarehouseFile(
        join(s.dataDir, "warehouse", "warehouse.duckdb"),
        "SELECT EventId FROM otel_logs",
      );
      expect(auditSink(all, countIds(wh.rows.map((r) => String(r[0]))))).toEqual(clean);
      expect(
        auditSink(all, countIds(archiveRecords(join(s.dataDir, "archive")).map((a) => a.record.eventId))),
      ).toEqual(clean);
    });
  }
});
