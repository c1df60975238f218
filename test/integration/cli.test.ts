/**
 * The sluice binary as a user runs it: validate-config, and start/gateway on
 * embedded defaults answering OTLP, /healthz, /readyz and /metrics, then
 * stopping cleanly on SIGTERM.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.js";
import { readEmbedded } from "../support/read-log.js";

const root = resolve(import.meta.dirname, "../..");
const bin = join(root, "bin/sluice");

if (!existsSync(join(root, "dist/cli/main.js"))) {
  throw new Error("dist/ is missing: run `npm run build` (npm test does it) before the CLI tests");
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "sluice-cli-"));
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
});

async function waitReady(admin: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sluice exited with ${child.exitCode}:\n${output()}`);
    const res = await fetch(`${admin}/readyz`).catch(() => undefined);
    if (res?.status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`sluice not ready in 30 s:\n${output()}`);
}

async function runRole(role: "start" | "gateway") {
  const [grpc, http, admin] = [await freePort(), await freePort(), await freePort()];
  const dir = tmp();
  const config = join(dir, "sluice.yaml");
  writeFileSync(
    config,
    [
      "receivers:",
      "  otlp:",
      "    protocols:",
      `      grpc: { endpoint: "127.0.0.1:${grpc}" }`,
      `      http: { endpoint: "127.0.0.1:${http}" }`,
      `admin: { endpoint: "127.0.0.1:${admin}" }`,
      ...(role === "start"
        ? [
            "exporters: { sqlite_search: {}, duckdb_warehouse: {}, file_archive: {} }",
            "pipelines: { logs: { receivers: [otlp], exporters: [sqlite_search, duckdb_warehouse, file_archive] } }",
          ]
        : []),
    ].join("\n"),
  );
  const dataDir = join(dir, "data");
  const child = spawn(bin, [role, "--config", config, "--data-dir", dataDir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    out += d;
  });
  const adminUrl = `http://127.0.0.1:${admin}`;
  await waitReady(adminUrl, child, () => out);
  return { child, http: `http://127.0.0.1:${http}`, admin: adminUrl, dataDir, config, output: () => out };
}

describe("sluice CLI", () => {
  it("validate-config accepts the defaults and a good file", () => {
    const r = spawnSync(bin, ["validate-config"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/configuration is valid/);
  });

  it("validate-config refuses a bad file, naming the path and allowed values, with exit code 2", () => {
    const dir = tmp();
    writeFileSync(join(dir, "bad.yaml"), "log:\n  backend: cassandra\n");
    const r = spawnSync(bin, ["validate-config", "--config", join(dir, "bad.yaml")], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/log\.backend: .*"embedded".*"kafka"/);
  });

  for (const role of ["start", "gateway"] as const) {
    it(`${role} serves OTLP on embedded defaults, exposes admin endpoints and stops on SIGTERM`, async () => {
      const s = await runRole(role);
      expect((await fetch(`${s.admin}/healthz`)).status).toBe(200);
      const body = JSON.stringify({
        resourceLogs: [
          {
            resource: { attributes: [{ key: "service.name", value: { stringValue: "cli-test" } }] },
            scopeLogs: [{ logRecords: [{ body: { stringValue: "one" } }, { body: { stringValue: "two" } }] }],
          },
        ],
      });
      const res = await fetch(`${s.http}/v1/logs`, {
        method: "POST",
        body,
        headers: { "content-type": "application/json" },
      });
      expect(res.status).toBe(200);
      const metrics = await (await fetch(`${s.admin}/metrics`)).text();
      expect(metrics).toMatch(/sluice_receiver_accepted_log_records_total\{receiver="otlp"\} 2/);
      expect(metrics).toMatch(/sluice_receiver_accepted_bytes_total\{receiver="otlp"\} \d+/);
      expect(metrics).toMatch(/sluice_log_append_duration_seconds_count\{backend="embedded"\} 1/);
      const bad = await fetch(`${s.http}/v1/logs`, {
        method: "POST",
        body: "x",
        headers: { "content-type": "text/plain" },
      });
      expect(bad.status).toBe(415);
      const after = await (await fetch(`${s.admin}/metrics`)).text();
      expect(after).toMatch(
        /sluice_receiver_refused_requests_total\{receiver="otlp",reason="unsupported_media_type"\} 1/,
      );

      if (role === "start") {
        // The embedded stores can be looked at while the process runs.
        const dataArgs = ["--config", s.config, "--data-dir", s.dataDir];
        const deadline = Date.now() + 30_000;
        let lag = "";
        while (!/total lag: 0/.test(lag) || !/sluice\.logs\.file_archive/.test(lag)) {
          if (Date.now() > deadline) throw new Error(`lag never reached 0:\n${lag}`);
          lag = spawnSync(bin, ["lag", ...dataArgs], { encoding: "utf8" }).stdout;
          await new Promise((r) => setTimeout(r, 200));
        }
        const search = spawnSync(bin, ["search", "two", ...dataArgs], { encoding: "utf8" });
        expect(search.status, search.stderr).toBe(0);
        expect(search.stdout).toMatch(/cli-test\s+.*two/);
        expect(search.stdout).toMatch(/\(1 rows\)/);
        const sql = spawnSync(bin, ["sql", "SELECT count(*) AS n FROM otel_logs", ...dataArgs], {
          encoding: "utf8",
        });
        expect(sql.status, sql.stderr).toBe(0);
        expect(sql.stdout).toMatch(/^2\s*$/m);
      }

      const exited = new Promise<number | null>((r) => s.child.once("exit", (code) => r(code)));
      s.child.kill("SIGTERM");
      expect(await exited).toBe(0);
      const stored = await readEmbedded(join(s.dataDir, "log", "log.db"), "sluice.logs");
      expect(stored).toHaveLength(1);
    });
  }
});
