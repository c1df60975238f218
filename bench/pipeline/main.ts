/**
 * The pipeline benchmark (`npm run bench:pipeline`): how fast `sluice
 * process` moves records from the log into each sink, and how long a
 * record takes from its export to being queryable in each sink.
 *
 * Per setup (embedded: embedded log and sinks; real: Kafka, OpenSearch,
 * ClickHouse and S3 on loopback):
 *   1. preload N records through `sluice gateway` while no processor runs;
 *   2. baseline: a processor with only the nop exporter drains them (same
 *      log source, decoding and commits, no sink work);
 *   3. the sinks drain the same records, all in one processor (each sink is
 *      its own consumer group) or, with --one-sink-at-a-time, one by one;
 *      each sink's contents are then counted;
 *   4. latency: with a processor running every sink and caught up, probes
 *      at a steady rate, each looked up in every sink until it is found.
 * `--help` lists the options; docs/performance.md ("Pipeline") the method.
 */
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify as stringifyYaml } from "yaml";
import { ClickHouseServer } from "../../scripts/services/clickhouse.js";
import { KafkaServer } from "../../scripts/services/kafka.js";
import { OpenSearchServer } from "../../scripts/services/opensearch.js";
import { S3Server } from "../../scripts/services/s3.js";
import { freePort } from "../../test/support/ports.js";
import { Role } from "../common/children.js";
import { LoadClient } from "../faults/load.js";
import { type DrainResult, type GroupSpec, watchDrain } from "./drain.js";
import { EmbeddedLagReader, KafkaLagReader, type LagReader } from "./lag.js";
import { type LatencyResult, probeHours, runProbes, warmUp } from "./latency.js";
import { type Options, parseOptions, type SetupName, USAGE } from "./options.js";
import { preloadRequest, recordIdPrefix } from "./records.js";
import { auditHoldings, type Check, type Row, table } from "./report.js";
import {
  BASELINE,
  EMBEDDED_SINKS,
  exporterConfig,
  holdings,
  REAL_SINKS,
  type SinkEnv,
  type SinkType,
  type Visibility,
  visibility,
} from "./sinks.js";

const root = resolve(import.meta.dirname, "../../..");
const bin = join(root, "bin/sluice");
const TOPICS = { logs: "sluice.logs", events: "sluice.events", dead_letter: "sluice.dead-letter" };

const t0 = Date.now();
const clock = () => `${((Date.now() - t0) / 1000).toFixed(1).padStart(7)}s`;
const log = (line: string) => process.stderr.write(`${clock()} ${line}\n`);
const now = () => performance.timeOrigin + performance.now();

type Server = KafkaServer | OpenSearchServer | ClickHouseServer | S3Server;
const running = { roles: [] as Role[], servers: [] as Server[], lags: [] as LagReader[] };

async function cleanup(): Promise<void> {
  for (const r of running.roles.splice(0)) await r.stop().catch(() => undefined);
  for (const l of running.lags.splice(0)) await l.close().catch(() => undefined);
  await Promise.all(running.servers.splice(0).map((s) => s.stop().catch(() => undefined)));
}

interface PreloadReport {
  records: number;
  acknowledged: number;
  seconds: number;
  recordsPerS: number;
  answers: Record<string, number>;
}

interface PhaseReport {
  label: string;
  sinks: string[];
  drain: DrainResult;
  checks: Record<string, Check>;
}

interface SetupReport {
  setup: SetupName;
  mode: "parallel" | "one-sink-at-a-time";
  sinks: SinkType[];
  preload?: PreloadReport;
  phases: PhaseReport[];
  latency?: LatencyResult;
  rows: Row[];
  error?: string;
}

/** A role whose unplanned exit (Role restarts it) makes the phase fail instead of measuring a restart. */
function goneReason(role: Role, pid: number): () => string | undefined {
  return () => {
    if (role.unplannedExits.length > 0) return role.unplannedExits.join("; ");
    if (role.pid !== pid) return `pid ${pid} is no longer the running processor`;
    return undefined;
  };
}

async function runSetup(setup: SetupName, opts: Options, runDir: string, run: string): Promise<SetupReport> {
  const dir = join(runDir, setup);
  const logDir = join(dir, "logs");
  mkdirSync(logDir, { recursive: true });
  const all: readonly SinkType[] = setup === "embedded" ? EMBEDDED_SINKS : REAL_SINKS;
  const sinks = all.filter((s) => !opts.sinks || opts.sinks.includes(s));
  const report: SetupReport = {
    setup,
    mode: opts.oneSinkAtATime ? "one-sink-at-a-time" : "parallel",
    sinks,
    phases: [],
    rows: [],
  };
  if (sinks.length === 0) {
    log(`${setup}: no sink selected by --sinks; skipped`);
    return report;
  }

  const serviceLog = createWriteStream(join(logDir, "services.log"));
  const quiet = (name: string) => (line: string) => {
    serviceLog.write(`${clock()} [${name}] ${line}\n`);
    if (/ ready at /.test(line)) log(`[${name}] ${line}`);
  };
  const dataDir = join(dir, "data");
  const env: SinkEnv = { dataDir, processAdmin: () => undefined };
  let kafka: KafkaServer | undefined;
  if (setup === "real") {
    kafka = new KafkaServer({
      dataDir: join(dir, "kafka"),
      partitions: opts.partitions,
      log: quiet("kafka"),
    });
    const opensearch = new OpenSearchServer({ dataDir: join(dir, "opensearch"), log: quiet("opensearch") });
    const clickhouse = new ClickHouseServer({ dataDir: join(dir, "clickhouse"), log: quiet("clickhouse") });
    const s3 = new S3Server({ dataDir: join(dir, "s3"), log: quiet("s3") });
    const wanted: Server[] = [kafka];
    if (sinks.includes("opensearch")) wanted.push(opensearch);
    if (sinks.includes("clickhouse")) wanted.push(clickhouse);
    if (sinks.includes("s3")) wanted.push(s3);
    running.servers.push(...wanted);
    log(
      `real: starting ${wanted.map((s) => s.constructor.name.replace("Server", "")).join(", ")} on loopback`,
    );
    await Promise.all(wanted.map((s) => s.start()));
    if (sinks.includes("opensearch")) env.opensearch = { url: opensearch.url };
    if (sinks.includes("clickhouse")) env.clickhouse = { url: clickhouse.url, database: "otel_bench" };
    if (sinks.includes("s3")) {
      env.s3 = {
        endpoint: s3.endpoint,
        region: s3.region,
        accessKeyId: s3.accessKeyId,
        secretAccessKey: s3.secretAccessKey,
        bucket: "sluice-bench",
      };
    }
  }

  const ports = { grpc: await freePort(), http: await freePort() };
  const gatewayAdminPort = await freePort();
  const processAdminPort = await freePort();
  const processAdmin = `http://127.0.0.1:${processAdminPort}`;
  const logConfig =
    kafka === undefined
      ? { backend: "embedded", topics: TOPICS, embedded: { partitions: opts.partitions } }
      : {
          backend: "kafka",
          topics: TOPICS,
          kafka: { brokers: [kafka.bootstrap], partitions: opts.partitions },
        };
  const batch: Record<string, unknown> = {};
  if (opts.batchRecords !== undefined) batch.max_records = opts.batchRecords;
  if (opts.linger !== undefined) batch.linger = opts.linger;

  const writeConfig = (name: string, exporters: (SinkType | typeof BASELINE)[], adminPort: number) => {
    const file = join(dir, `${name}.yaml`);
    const doc = {
      receivers: {
        otlp: {
          protocols: {
            grpc: { endpoint: `127.0.0.1:${ports.grpc}` },
            http: { endpoint: `127.0.0.1:${ports.http}` },
          },
        },
      },
      log: logConfig,
      exporters: Object.fromEntries(
        exporters.map((e) => [
          e,
          { ...exporterConfig(e, env), ...(Object.keys(batch).length ? { batch } : {}) },
        ]),
      ),
      pipelines: { logs: { receivers: ["otlp"], processors: [], exporters } },
      admin: { endpoint: `127.0.0.1:${adminPort}` },
      telemetry: { log_level: "warn" },
    };
    writeFileSync(file, stringifyYaml(doc));
    return file;
  };
  const role = (name: string, config: string, adminPort: number) => {
    const r = new Role({
      name,
      bin,
      args: [name.startsWith("gateway") ? "gateway" : "process", "--config", config, "--data-dir", dataDir],
      admin: `http://127.0.0.1:${adminPort}`,
      logDir,
      log: (line) => log(`${setup}: ${line}`),
    });
    running.roles.push(r);
    return r;
  };
  const stopRole = async (r: Role) => {
    await r.stop();
    running.roles.splice(running.roles.indexOf(r), 1);
  };

  const gateway = role("gateway", writeConfig("gateway", [BASELINE], gatewayAdminPort), gatewayAdminPort);
  await gateway.start();
  const endpoint = `http://127.0.0.1:${ports.http}`;
  const groupOf = (e: string) => `sluice.logs.${e}`;

  try {
    if (opts.phases.includes("throughput")) {
      // Preload: the backlog the processors drain. No processor runs yet.
      const shape = { run, recordSize: opts.recordSize, keys: opts.keys };
      const load = new LoadClient({
        run,
        endpoint,
        workers: opts.loadWorkers,
        batchSize: opts.requestRecords,
        rate: 1e12,
        minRecords: opts.records,
        giveUpAfterMs: 120_000,
        build: (_w, first, count) => preloadRequest(shape, first, count),
      });
      log(
        `${setup}: preloading ${opts.records} records (${opts.requestRecords} per request, ${opts.recordSize} B bodies)`,
      );
      const p0 = now();
      load.start();
      await load.finish();
      const seconds = (now() - p0) / 1000;
      const acknowledged = load.ackedCount;
      report.preload = {
        records: load.stats.sent,
        acknowledged,
        seconds,
        recordsPerS: acknowledged / seconds,
        answers: Object.fromEntries(load.stats.byOutcome),
      };
      log(
        `${setup}: preloaded ${acknowledged} of ${load.stats.sent} acknowledged in ${seconds.toFixed(1)} s (${Math.round(acknowledged / seconds)} records/s)`,
      );
      if (acknowledged === 0) throw new Error("the gateway acknowledged no record");

      const topics = [TOPICS.logs, TOPICS.events];
      let lag: LagReader;
      if (kafka === undefined) {
        lag = new EmbeddedLagReader(join(dataDir, "log", "log.db"), opts.partitions, topics);
        running.lags.push(lag);
      } else {
        const kafkaLag = new KafkaLagReader([kafka.bootstrap], topics);
        running.lags.push(kafkaLag);
        await kafkaLag.warmUp(60_000);
        lag = kafkaLag;
      }

      const phases: { label: string; sinks: (SinkType | typeof BASELINE)[] }[] = [
        { label: "baseline", sinks: [BASELINE] },
        ...(opts.oneSinkAtATime
          ? sinks.map((s) => ({ label: s, sinks: [s] }))
          : [{ label: "all sinks", sinks: [...sinks] }]),
      ];
      for (const phase of phases) {
        const name = `process-${phase.label.replace(/\s+/g, "-")}`;
        const r = role(name, writeConfig(name, phase.sinks, processAdminPort), processAdminPort);
        log(`${setup}: draining into ${phase.sinks.join(", ")}`);
        const spawnedAt = now();
        // Not waiting for /readyz: the watch starts at the spawn, so a fast drain is not missed.
        await r.start({}, false);
        const pid = r.pid;
        if (pid === undefined) throw new Error(`${name} has no pid`);
        env.processAdmin = () => processAdmin;
        const groups: GroupSpec[] = phase.sinks.map((e) => ({ exporter: e, group: groupOf(e) }));
        const drain = await watchDrain({
          pid,
          gone: goneReason(r, pid),
          spawnedAt,
          admin: processAdmin,
          groups,
          lag,
          sampleMs: opts.sampleMs,
          timeoutMs: opts.drainTimeoutS * 1000,
          log: (line) => log(`${setup}: ${line}`),
        });
        log(
          `${setup}: processor up ${drain.startupS?.toFixed(1) ?? "?"} s after the spawn; /metrics showed every consumer started ${drain.consumersStartedS?.toFixed(2) ?? "?"} s later`,
        );
        for (const g of drain.groups) {
          log(
            `${setup}: ${g.exporter}: clock from ${g.startupS?.toFixed(1) ?? "?"} s after the spawn, lag 0 ${g.windowS?.toFixed(2) ?? "?"} s later, ${g.written} records written` +
              (g.retries ? `, ${g.retries} retries` : "") +
              (g.deadLettered ? `, ${g.deadLettered} dead-lettered` : ""),
          );
        }
        const checks: Record<string, Check> = {};
        for (const s of phase.sinks) {
          if (s === BASELINE) {
            const written = drain.groups[0]?.written ?? 0;
            checks[s] = {
              expected: acknowledged,
              found: written,
              missing: Math.max(0, acknowledged - written),
              duplicates: 0,
              unacknowledged: Math.max(0, written - acknowledged),
              ok: written >= acknowledged,
              how: "sluice_exporter_records_total{outcome=written}",
            };
            continue;
          }
          const c0 = now();
          checks[s] = auditHoldings(
            await holdings(s, env, recordIdPrefix(run)),
            run,
            load.stats,
            acknowledged,
          );
          log(
            `${setup}: ${s} holds ${checks[s].found} of ${acknowledged} (${checks[s].missing} missing, ${checks[s].duplicates} duplicates; read back in ${((now() - c0) / 1000).toFixed(1)} s)`,
          );
        }
        report.phases.push({ label: phase.label, sinks: phase.sinks, drain, checks });
        await stopRole(r);
        env.processAdmin = () => undefined;
      }
    }

    if (opts.phases.includes("latency")) {
      const name = "process-latency";
      const r = role(name, writeConfig(name, sinks, processAdminPort), processAdminPort);
      log(
        `${setup}: latency: a processor with ${sinks.join(", ")}; ${opts.probeRate} probes/s for ${opts.probeDurationS} s`,
      );
      await r.start();
      env.processAdmin = () => processAdmin;
      const vis: { sink: SinkType; vis: Visibility }[] = sinks.map((s) => ({
        sink: s,
        vis: visibility(s, env),
      }));
      try {
        const warmUpS = 120;
        const hours = probeHours(warmUpS + opts.probeDurationS + opts.probeTimeoutS);
        await Promise.all(vis.map((v) => v.vis.prime(hours)));
        await warmUp({
          run,
          endpoint,
          sinks: vis,
          hours,
          pollMs: opts.pollMs,
          timeoutMs: warmUpS * 1000,
          log,
        });
        log(`${setup}: warm-up record visible in every sink; probes start`);
        report.latency = await runProbes({
          run,
          endpoint,
          sinks: vis,
          hours,
          rate: opts.probeRate,
          durationS: opts.probeDurationS,
          timeoutS: opts.probeTimeoutS,
          pollMs: opts.pollMs,
          log: (line) => log(`${setup}: ${line}`),
        });
        for (const l of report.latency.sinks) {
          log(
            `${setup}: ${l.sink}: ${l.seen}/${l.acked} probes seen, p50 ${l.p50Ms?.toFixed(0)} ms, p99 ${l.p99Ms?.toFixed(0)} ms, max ${l.maxMs?.toFixed(0)} ms` +
              (l.lookupErrors ? ` (${l.lookupErrors} lookup errors, last: ${l.lastError})` : ""),
          );
        }
      } finally {
        await Promise.all(vis.map((v) => v.vis.close().catch(() => undefined)));
        await stopRole(r);
        env.processAdmin = () => undefined;
      }
    }
  } finally {
    await stopRole(gateway);
    for (const l of running.lags.splice(0)) await l.close().catch(() => undefined);
    await Promise.all(running.servers.splice(0).map((s) => s.stop().catch(() => undefined)));
    serviceLog.end();
  }
  report.rows = rows(report);
  return report;
}

function rows(r: SetupReport): Row[] {
  const out: Row[] = [];
  const acked = r.preload?.acknowledged ?? 0;
  const perS = (records: number | undefined, s: number | undefined) =>
    records !== undefined && s !== undefined && s > 0 ? records / s : undefined;
  const perM = (cpu: number | undefined, records: number | undefined) =>
    cpu !== undefined && records ? (cpu / records) * 1e6 : undefined;
  const baseline = r.phases.find((p) => p.label === "baseline");
  const base = baseline?.drain.groups[0];
  // The nop group's landed records are what it wrote (replays aside), at most what was acknowledged.
  const baseRecords = base ? Math.min(base.written, acked) : undefined;
  const baseRate = perS(baseRecords, base?.windowS);
  if (baseline && base) {
    out.push({
      sink: `${BASELINE} (baseline)`,
      mode: "baseline",
      records: baseRecords,
      startupS: base.startupS,
      windowS: base.windowS,
      recordsPerS: baseRate,
      ratio: baseRate === undefined ? undefined : 1,
      cpuSPerMRecords: perM(base.cpuS, baseRecords),
      peakRssMiB: baseline.drain.peakRssMiB,
      check: baseline.checks[BASELINE],
      written: base.written,
      short: base.short,
    });
  }
  for (const sink of r.sinks) {
    const phase = r.phases.find((p) => p.label !== "baseline" && p.sinks.includes(sink));
    const g = phase?.drain.groups.find((x) => x.exporter === sink);
    const shared = (phase?.sinks.length ?? 0) > 1;
    // Records actually landed (read back), not what was written: a replay writes some twice.
    const landed = phase?.checks[sink]?.found;
    const rate = perS(landed, g?.windowS);
    out.push({
      sink,
      mode: shared ? "parallel" : "alone",
      records: landed,
      startupS: g?.startupS,
      windowS: g?.windowS,
      recordsPerS: rate,
      ratio: rate !== undefined && baseRate ? rate / baseRate : undefined,
      cpuSPerMRecords: shared ? perM(phase?.drain.allCpuS, acked) : perM(g?.cpuS, landed),
      peakRssMiB: phase?.drain.peakRssMiB,
      shared,
      latency: r.latency?.sinks.find((l) => l.sink === sink),
      check: phase?.checks[sink],
      written: g?.written,
      deadLettered: g?.deadLettered,
      retries: g?.retries,
      short: g?.short,
    });
  }
  const parallel = r.phases.find((p) => p.label === "all sinks" && p.sinks.length > 1);
  if (parallel?.drain.allWindowS !== undefined) {
    const rate = perS(acked, parallel.drain.allWindowS);
    out.push({
      sink: `all ${parallel.sinks.length} together`,
      mode: "all",
      records: acked,
      startupS: Math.min(...parallel.drain.groups.map((g) => g.startupS ?? Number.POSITIVE_INFINITY)),
      windowS: parallel.drain.allWindowS,
      recordsPerS: rate,
      ratio: rate !== undefined && baseRate ? rate / baseRate : undefined,
      cpuSPerMRecords: perM(parallel.drain.allCpuS, acked),
      peakRssMiB: parallel.drain.peakRssMiB,
    });
  }
  return out;
}

function printSetup(r: SetupReport, opts: Options): void {
  const out: string[] = [];
  const mode =
    r.mode === "parallel"
      ? "every sink in one processor, draining in parallel"
      : "one sink per processor, in turn";
  out.push(
    `\n## ${r.setup} (${r.setup === "embedded" ? "embedded log; sqlite_search, duckdb_warehouse, file_archive" : "Kafka; OpenSearch, ClickHouse, S3"}) — ${mode}`,
  );
  if (r.preload) {
    out.push(
      `preload: ${r.preload.acknowledged} records acknowledged of ${r.preload.records} in ${r.preload.seconds.toFixed(1)} s (${Math.round(r.preload.recordsPerS)} records/s through the gateway)`,
    );
  }
  if (r.rows.length) out.push(table(r.rows));
  if (r.rows.some((x) => x.shared)) {
    out.push(
      "* CPU and RSS of the one processor all sinks ran in: CPU per million log records, each written to every sink.",
    );
  }
  if (r.rows.some((x) => x.short)) {
    out.push(
      `(short): the drain took fewer than ten ${opts.sampleMs} ms samples; preload more records for a usable figure.`,
    );
  }
  for (const p of r.phases) {
    for (const g of p.drain.groups) {
      const found = p.checks[g.exporter]?.found ?? g.written;
      if (g.written > found) {
        out.push(
          `note: ${g.exporter} wrote ${g.written} records for ${found} landed: a replay (see the processor log)`,
        );
      }
    }
  }
  if (r.latency) {
    out.push(
      `latency: ${r.latency.rate} probes/s for ${r.latency.durationS} s (sent at ${r.latency.achievedRate.toFixed(1)}/s), each sink polled every ${r.latency.pollMs} ms (measured cycle: ${r.latency.sinks.map((l) => `${l.sink} ${l.meanPollCycleMs?.toFixed(0) ?? "?"} ms`).join(", ")}); export → start of the first lookup that finds it`,
    );
  }
  for (const row of r.rows) {
    if (row.retries) out.push(`note: ${row.sink} retried ${row.retries} times during the drain`);
    if (row.deadLettered) out.push(`note: ${row.sink} dead-lettered ${row.deadLettered} records`);
  }
  if (r.error) out.push(`ERROR: ${r.error}`);
  process.stdout.write(`${out.join("\n")}\n`);
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const run = `pb${t0.toString(36)}`;
  const runDir = mkdtempSync(join(tmpdir(), "sluice-bench-pipeline-"));
  let failed = false;
  /** Interrupted or out of time: stop what this run started, remove its folder unless --keep, exit. */
  const abort = (why: string, code: number) => {
    log(`${why}: stopping what this benchmark started`);
    void cleanup().finally(() => {
      if (!opts.keep) rmSync(runDir, { recursive: true, force: true });
      process.exit(code);
    });
  };
  const watchdog = setTimeout(
    () => abort(`deadline of ${opts.deadlineMin} min passed`, 3),
    opts.deadlineMin * 60_000,
  );
  watchdog.unref();
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => abort(sig, 130));
  const reports: SetupReport[] = [];
  const load0 = loadavg();
  log(`run ${run}, folder ${runDir}`);
  try {
    for (const setup of opts.setups) {
      try {
        const r = await runSetup(setup, opts, runDir, run);
        reports.push(r);
        if (r.sinks.length > 0) printSetup(r, opts);
        if (r.rows.some((x) => x.check && !x.check.ok) || r.latency?.sinks.some((l) => l.missing > 0))
          failed = true;
      } catch (err) {
        failed = true;
        const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
        log(`${setup}: failed: ${message}`);
        reports.push({
          setup,
          mode: opts.oneSinkAtATime ? "one-sink-at-a-time" : "parallel",
          sinks: [],
          phases: [],
          rows: [],
          error: message,
        });
        await cleanup();
      }
    }
  } finally {
    clearTimeout(watchdog);
    await cleanup();
  }
  if (opts.json) {
    const cpu = cpus();
    const doc = {
      run,
      date: new Date(t0).toISOString(),
      machine: {
        cpus: cpu.length,
        model: cpu[0]?.model,
        node: process.version,
        loadavgStart: load0,
        loadavgEnd: loadavg(),
      },
      options: opts,
      setups: reports,
    };
    writeFileSync(
      opts.json,
      `${JSON.stringify(doc, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2)}\n`,
    );
    log(`figures written to ${opts.json}`);
  }
  // A failed setup keeps the folder so its logs can be read.
  if (opts.keep || failed) log(`run folder kept: ${runDir}`);
  else rmSync(runDir, { recursive: true, force: true });
  return failed ? 1 : 0;
}

process.exit(await main());
