/**
 * The fault suite: a stream of uniquely identified records through
 * `sluice gateway` → Kafka → `sluice process` → OpenSearch, ClickHouse and
 * S3 while the gateway, the processor, Kafka and each sink are taken down in
 * turn; then an audit of every sink against what the client saw
 * acknowledged. Exits non-zero on any loss or duplicate.
 *
 * Tunables (environment): FAULTS_RECORDS (minimum records, default 100000),
 * FAULTS_RATE (records/s while faults run, default 500), FAULTS_WORKERS (8),
 * FAULTS_BATCH (records per request, 100), FAULTS_GATEWAY_WORKERS (gateway
 * worker processes, 2: the kill -9 hits the primary, whose workers must go
 * with it), FAULTS_KEEP=1 keeps the run folder.
 */
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify as stringifyYaml } from "yaml";
import { ClickHouseServer } from "../../scripts/services/clickhouse.js";
import { KafkaServer } from "../../scripts/services/kafka.js";
import { OpenSearchServer } from "../../scripts/services/opensearch.js";
import { S3Server } from "../../scripts/services/s3.js";
import { countIds } from "../../test/support/embedded-sinks.js";
import { freePort } from "../../test/support/ports.js";
import { clickHouseIds, openSearchIds, s3Records } from "../../test/support/real-sinks.js";
import { Role } from "../common/children.js";
import { runBounded } from "../common/run-bounded.js";
import { auditSink, auditTable, failed, type SinkAudit } from "./audit.js";
import { LoadClient, sleep } from "./load.js";
import { SINKS, type Sink } from "./records.js";

const SUITE_DEADLINE_MS = 15 * 60_000;
const LAG_DEADLINE_MS = 5 * 60_000;

const envInt = (name: string, fallback: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? Math.floor(v) : fallback;
};

const RECORDS = envInt("FAULTS_RECORDS", 100_000);
const RATE = envInt("FAULTS_RATE", 500);
const WORKERS = envInt("FAULTS_WORKERS", 8);
const BATCH = envInt("FAULTS_BATCH", 100);
const GATEWAY_WORKERS = envInt("FAULTS_GATEWAY_WORKERS", 2);

const root = resolve(import.meta.dirname, "../../..");
const bin = join(root, "bin/sluice");
const t0 = Date.now();
const clock = () => `${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s`;
const log = (line: string) => console.log(`${clock()} ${line}`);
const timeline: string[] = [];
const mark = (line: string) => {
  timeline.push(`${clock()} ${line}`);
  log(line);
};

const run = `faults-${t0.toString(36)}`;
const runDir = mkdtempSync(join(tmpdir(), "sluice-faults-"));
const logDir = join(runDir, "logs");
mkdirSync(logDir);

const serviceLog = createWriteStream(join(logDir, "services.log"));
/** Service output goes to a file; only readiness lines reach the console. */
const quiet = (name: string) => (line: string) => {
  serviceLog.write(`${clock()} [${name}] ${line}\n`);
  if (/ ready at /.test(line)) log(`[${name}] ${line}`);
};
const kafka = new KafkaServer({ dataDir: join(runDir, "kafka"), partitions: 3, log: quiet("kafka") });
const opensearch = new OpenSearchServer({ dataDir: join(runDir, "opensearch"), log: quiet("opensearch") });
const clickhouse = new ClickHouseServer({ dataDir: join(runDir, "clickhouse"), log: quiet("clickhouse") });
const s3 = new S3Server({ dataDir: join(runDir, "s3"), log: quiet("s3") });
const bucket = "sluice-faults";
const database = "otel_faults";
const roles: Role[] = [];

async function cleanup(): Promise<void> {
  for (const r of roles) await r.stop().catch(() => undefined);
  await Promise.all([kafka, opensearch, clickhouse, s3].map((s) => s.stop().catch(() => undefined)));
}

function pipelineConfig(ports: { grpc: number; http: number }, adminPort: number) {
  const retry = { initial_interval: "100ms", max_interval: "2s" };
  const batch = { max_records: 1000, linger: "200ms" };
  return {
    receivers: {
      otlp: {
        protocols: {
          grpc: { endpoint: `127.0.0.1:${ports.grpc}` },
          http: { endpoint: `127.0.0.1:${ports.http}` },
        },
      },
    },
    log: {
      backend: "kafka",
      kafka: { brokers: [kafka.bootstrap], partitions: 3, request_timeout: "5s" },
      topics: { logs: `${run}-logs`, events: `${run}-events`, dead_letter: `${run}-dlq` },
    },
    gateway: { append_timeout: "5s", retry_after: "1s", workers: GATEWAY_WORKERS },
    processors: {
      dedup: {},
      route: {
        rules: [
          { when: { kind: "events" }, exporters: ["clickhouse"] },
          { when: { kind: "logs", severity_at_least: "INFO" }, exporters: ["opensearch"] },
          { when: {}, exporters: ["s3"] },
        ],
      },
    },
    exporters: {
      opensearch: { endpoints: [opensearch.url], batch, retry_on_failure: retry },
      clickhouse: { endpoint: clickhouse.url, database, batch, retry_on_failure: retry },
      s3: {
        bucket,
        prefix: run,
        endpoint: s3.endpoint,
        region: s3.region,
        force_path_style: true,
        create_bucket: true,
        credentials: { access_key_id: s3.accessKeyId, secret_access_key: s3.secretAccessKey },
        batch,
        retry_on_failure: retry,
      },
    },
    pipelines: {
      logs: {
        receivers: ["otlp"],
        processors: ["dedup", "route"],
        exporters: ["opensearch", "clickhouse", "s3"],
      },
    },
    admin: { endpoint: `127.0.0.1:${adminPort}` },
    telemetry: { log_level: "warn" },
  };
}

async function lagByGroup(admin: string): Promise<Map<string, bigint> | undefined> {
  const res = await fetch(`${admin}/api/lag`, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
  if (!res?.ok) return undefined;
  const body = (await res.json()) as { lag: { group: string; lag: string }[] };
  const by = new Map<string, bigint>();
  for (const l of body.lag) by.set(l.group, (by.get(l.group) ?? 0n) + BigInt(l.lag));
  return by;
}

const fmtLag = (by: Map<string, bigint> | undefined) =>
  by ? [...by].map(([g, l]) => `${g.split(".").pop()}=${l}`).join(" ") : "unavailable";

async function main(): Promise<number> {
  if (!existsSync(join(root, "dist/cli/main.js"))) throw new Error("dist/ is missing: run `npm run build`");
  log(`run ${run}, folder ${runDir}`);
  log("starting Kafka, OpenSearch, ClickHouse and S3 on loopback");
  await Promise.all([kafka.start(), opensearch.start(), clickhouse.start(), s3.start()]);

  const ports = { grpc: await freePort(), http: await freePort() };
  const gatewayAdmin = await freePort();
  const processAdmin = await freePort();
  const gatewayConfig = join(runDir, "gateway.yaml");
  const processConfig = join(runDir, "process.yaml");
  writeFileSync(gatewayConfig, stringifyYaml(pipelineConfig(ports, gatewayAdmin)));
  writeFileSync(processConfig, stringifyYaml(pipelineConfig(ports, processAdmin)));
  const dataDir = join(runDir, "data");
  const gateway = new Role({
    name: "gateway",
    bin,
    args: ["gateway", "--config", gatewayConfig, "--data-dir", dataDir],
    admin: `http://127.0.0.1:${gatewayAdmin}`,
    logDir,
    log,
  });
  const processor = new Role({
    name: "process",
    bin,
    args: ["process", "--config", processConfig, "--data-dir", dataDir],
    admin: `http://127.0.0.1:${processAdmin}`,
    logDir,
    log,
  });
  roles.push(gateway, processor);
  await gateway.start();
  await processor.start();
  const admin = `http://127.0.0.1:${processAdmin}`;

  const load = new LoadClient({
    run,
    endpoint: `http://127.0.0.1:${ports.http}`,
    workers: WORKERS,
    batchSize: BATCH,
    rate: RATE,
    minRecords: RECORDS,
    giveUpAfterMs: 180_000,
  });
  const progress = setInterval(() => {
    void lagByGroup(admin).then((by) =>
      log(
        `load: ${load.stats.sent} sent, ${load.ackedCount} acked, ${load.stats.attempts - load.stats.requests} retries; lag ${fmtLag(by)}`,
      ),
    );
  }, 10_000);
  load.start();
  mark(`stream started: ${WORKERS} workers × ${BATCH} records/request at ${RATE} records/s`);

  const pause = (s: number) => sleep(s * 1000);
  try {
    await pause(15);

    mark(`fault 1: kill -9 gateway (pid ${gateway.pid})`);
    await gateway.kill9();
    await pause(3);
    await gateway.start();
    mark(`gateway restarted (pid ${gateway.pid})`);
    await pause(15);

    mark(`fault 2: kill -9 processor (pid ${processor.pid})`);
    await processor.kill9();
    await pause(3);
    // The restart carries the failpoint: the new processor kills itself right after its first S3
    // write and before that batch's commit, so at least one replay across a crash is certain.
    const marker = join(runDir, "failpoint-s3-fired");
    await processor.start({ SLUICE_FAILPOINT_KILL_AFTER_WRITE: `s3:${marker}` }, false);
    mark(`processor restarted with the S3 kill-after-write failpoint (pid ${processor.pid})`);
    const fired = await processor.expectSelfKill(60_000);
    mark(
      fired
        ? "failpoint fired: processor SIGKILLed after an S3 write, before its commit"
        : "failpoint did not fire in 60 s",
    );
    if (!fired) await processor.kill9();
    await processor.start();
    mark(`processor restarted (pid ${processor.pid})`);
    await pause(15);

    mark("fault 3: Kafka restart");
    await kafka.restart();
    mark(`Kafka back (pid ${kafka.pid})`);
    await pause(20);

    const outages: [Sink, OpenSearchServer | ClickHouseServer | S3Server][] = [
      ["opensearch", opensearch],
      ["clickhouse", clickhouse],
      ["s3", s3],
    ];
    let n = 4;
    for (const [sink, server] of outages) {
      mark(`fault ${n++}: ${sink} stopped`);
      await server.stop();
      await pause(15);
      mark(`${sink} restarting; lag while down: ${fmtLag(await lagByGroup(admin))}`);
      await server.start();
      mark(`${sink} back`);
      await pause(15);
    }
    mark(`fault schedule done; finishing the stream (at least ${RECORDS} records)`);
    await load.finish();
    mark(`stream finished: ${load.stats.sent} records sent, ${load.ackedCount} acknowledged`);
  } finally {
    clearInterval(progress);
  }

  const stalls: string[] = [];
  let caughtUp = await waitForZeroLag(admin, LAG_DEADLINE_MS / 2);
  if (!caughtUp.ok) {
    // A consumer that stopped for good (seen after a long sink outage) would hide every later
    // check; one processor restart lets the audit still answer whether anything was lost.
    const what = `consumer lag stuck at ${fmtLag(caughtUp.last)}; restarting the processor once to audit`;
    stalls.push(what);
    mark(what);
    await processor.stop();
    await processor.start();
    caughtUp = await waitForZeroLag(admin, LAG_DEADLINE_MS / 2);
  }
  mark(
    caughtUp.ok ? "consumer lag 0 on every group" : `consumer lag never reached 0: ${fmtLag(caughtUp.last)}`,
  );

  log("reading back OpenSearch, ClickHouse and S3");
  const found: Record<Sink, Map<string, number>> = {
    opensearch: await openSearchIds(opensearch.url, "logs-*"),
    clickhouse: await clickHouseIds(clickhouse.url, database),
    s3: countIds(
      (
        await s3Records({
          endpoint: s3.endpoint,
          region: s3.region,
          accessKeyId: s3.accessKeyId,
          secretAccessKey: s3.secretAccessKey,
          bucket,
          prefix: run,
        })
      ).map((x) => x.record.eventId),
    ),
  };
  const audits: SinkAudit[] = SINKS.map((sink) => auditSink(sink, run, load.stats, found[sink]));

  const st = load.stats;
  console.log("\ntimeline:");
  for (const t of timeline) console.log(`  ${t}`);
  console.log("\nload client:");
  console.log(
    `  records sent ${st.sent}, acknowledged ${load.ackedCount}, in resent requests ${countOnes(st.resent, st.sent)}`,
  );
  console.log(
    `  requests ${st.requests}, attempts ${st.attempts}, most attempts for one request ${st.maxAttempts}`,
  );
  console.log(`  answers: ${[...st.byOutcome].map(([k, v]) => `${k}×${v}`).join(", ")}`);
  console.log(`  records refused permanently ${st.rejected}, given up after retries ${st.abandoned}`);
  const unplanned = roles.flatMap((r) => r.unplannedExits);
  console.log(`  unplanned sluice exits: ${unplanned.length}`);
  for (const u of unplanned) console.log(`    ${u}`);
  console.log(`\naudit:\n${auditTable(audits)}`);
  for (const a of audits) {
    if (a.missing) console.log(`  ${a.sink}: missing seqs, first ${a.sampleMissing.join(", ")}`);
    if (a.duplicatedIds)
      console.log(
        `  ${a.sink}: ${a.duplicatedIds} duplicated ids (${a.duplicatedResent} of them in a request the client resent), first seqs ${a.sampleDuplicated.join(", ")}`,
      );
  }
  for (const x of stalls) console.log(`  STALL: ${x}`);
  if (!caughtUp.ok) console.log("  LAG: the audit ran with lag left; missing records may still be in Kafka");
  const bad = audits.filter(failed);
  console.log(
    bad.length === 0 && stalls.length === 0
      ? `\nPASS: no acknowledged record lost, no id twice in any sink (${clock().trim()})`
      : `\nFAIL: ${[...bad.map((a) => a.sink), ...(stalls.length ? ["stalled consumer"] : [])].join(", ")} (${clock().trim()}); logs in ${logDir}`,
  );
  return bad.length === 0 && stalls.length === 0 && caughtUp.ok ? 0 : 1;
}

/** Lag 0 on all three groups twice in a row, a second apart (a commit in flight can show 0 early). */
async function waitForZeroLag(
  admin: string,
  timeoutMs: number,
): Promise<{ ok: boolean; last: Map<string, bigint> | undefined }> {
  const deadline = Date.now() + timeoutMs;
  let zeroInARow = 0;
  let last: Map<string, bigint> | undefined;
  for (;;) {
    const by = await lagByGroup(admin);
    if (by) last = by;
    const zero = by !== undefined && by.size === 3 && [...by.values()].every((l) => l === 0n);
    zeroInARow = zero ? zeroInARow + 1 : 0;
    if (zeroInARow >= 2) return { ok: true, last };
    if (Date.now() > deadline) return { ok: false, last };
    await sleep(1_000);
  }
}

function countOnes(a: Uint8Array, n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) c += a[i] ?? 0;
  return c;
}

await runBounded(main, {
  label: "suite",
  deadlineMs: SUITE_DEADLINE_MS,
  runDir,
  keep: process.env.FAULTS_KEEP === "1",
  log,
  cleanup,
});
