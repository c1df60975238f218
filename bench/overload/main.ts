/**
 * The overload run (`npm run bench:overload`): a real Kafka and `sluice
 * gateway` on loopback (and `sluice process` archiving every record), the
 * gateway's sustainable rate measured closed-loop, then ten times that rate
 * offered open-loop for a minute. Checks that every refusal is a retryable
 * one, that the gateway's peak RSS stays under the bound stated in
 * docs/performance.md, that no sluice process dies, and that every
 * acknowledged record is in Kafka (at least once) and in the archive
 * (exactly once). Exits non-zero when any check fails.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { gunzipSync } from "node:zlib";
import { stringify as stringifyYaml } from "yaml";
import { parseSize } from "../../core/config/units.js";
import { KafkaServer } from "../../scripts/services/kafka.js";
import { freePort } from "../../test/support/ports.js";
import {
  type Audit,
  audit,
  auditTable,
  failedAtLeastOnce,
  failedExactlyOnce,
  IdCounts,
  markdownTable,
  scanIds,
} from "../common/audit.js";
import { Role } from "../common/children.js";
import { scanKafkaIds, topicSizes } from "../common/kafka-ids.js";
import { PROTOCOLS, type Protocol, sleep } from "../common/otlp-client.js";
import {
  cpuSeconds,
  machineCpu,
  processTree,
  type RssReport,
  RssSampler,
  statusKiB,
} from "../common/proc.js";
import { runBounded } from "../common/run-bounded.js";
import { Generator, type PhaseStats } from "./generator.js";

/**
 * The bound docs/performance.md states: peak RSS per gateway process, with
 * gateway.max_inflight_bytes at DEFAULT_INFLIGHT (and the other gateway
 * settings at their defaults). DEFAULT_INFLIGHT is also the gateway's own
 * default; 256MiB does not keep a process under 512 MiB (docs/performance.md,
 * "Overload").
 */
const DEFAULT_RSS_BOUND_MIB = 512;
const DEFAULT_INFLIGHT = "64MiB";

const USAGE = `usage: npm run bench:overload -- [options]
  --protocol P            http/protobuf | http/json | grpc (default http/protobuf)
  --rate N                sustainable rate in records/s; skips the calibration
  --factor N              offered rate = N × the sustainable rate (default 10, at most 100)
  --duration S            seconds of overload (default 60, at most 600)
  --calibrate S           measured seconds per calibration step (default 10, at most 120), after --warmup S (default 2)
  --calibration-lanes N   requests outstanding in the first calibration step (default 32); doubled while the
                          rate still grows by 10 % without refusals, at most 4 steps
  --records N             records per request (default 1000)
  --record-size N         body bytes per record (default 200)
  --clients N             OTLP clients, one service.name and one connection pool or channel each (default 64)
  --connections N         attempts in flight per client: HTTP connections or gRPC streams (default 8)
  --max-outstanding N     requests one client holds at once, in flight or waiting to retry (default 64)
  --retry-budget S        a request is given up this long after its first attempt (default 30)
  --request-timeout S     no answer in this long is a failure (default 30)
  --rss-bound-mib N       peak RSS allowed per gateway process (default ${DEFAULT_RSS_BOUND_MIB})
  --max-inflight-bytes X  gateway.max_inflight_bytes (default ${DEFAULT_INFLIGHT}, the configuration the bound is stated for)
  --gateway-workers N     gateway.workers, for a multi-process gateway (default: not set)
  --partitions N          partitions per topic (default 8)
  --sink archive|none     audit an embedded file_archive through \`sluice process\` (default archive)
  --drain-timeout S       longest wait for the processor to catch up (default 600)
  --log-level L           telemetry.log_level of the sluice processes (default warn; their logs are in the run folder)
  --keep                  keep the run folder (it is kept anyway when a check fails)
  --json FILE             also write the whole result as JSON
  --help`;

interface Options {
  protocol: Protocol;
  rate: number | undefined;
  factor: number;
  durationS: number;
  calibrateS: number;
  warmupS: number;
  calibrationLanes: number;
  records: number;
  recordSize: number;
  clients: number;
  connections: number;
  maxOutstanding: number;
  retryBudgetS: number;
  requestTimeoutS: number;
  rssBoundMiB: number;
  maxInflightBytes: string;
  gatewayWorkers: string | undefined;
  partitions: number;
  sink: "archive" | "none";
  drainTimeoutS: number;
  logLevel: string;
  keep: boolean;
  json: string | undefined;
}

function parseOptions(argv: string[]): Options | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      protocol: { type: "string", default: "http/protobuf" },
      rate: { type: "string" },
      factor: { type: "string", default: "10" },
      duration: { type: "string", default: "60" },
      calibrate: { type: "string", default: "10" },
      warmup: { type: "string", default: "2" },
      "calibration-lanes": { type: "string", default: "32" },
      records: { type: "string", default: "1000" },
      "record-size": { type: "string", default: "200" },
      clients: { type: "string", default: "64" },
      connections: { type: "string", default: "8" },
      "max-outstanding": { type: "string", default: "64" },
      "retry-budget": { type: "string", default: "30" },
      "request-timeout": { type: "string", default: "30" },
      "rss-bound-mib": { type: "string", default: String(DEFAULT_RSS_BOUND_MIB) },
      "max-inflight-bytes": { type: "string", default: DEFAULT_INFLIGHT },
      "gateway-workers": { type: "string" },
      partitions: { type: "string", default: "8" },
      sink: { type: "string", default: "archive" },
      "drain-timeout": { type: "string", default: "600" },
      "log-level": { type: "string", default: "warn" },
      keep: { type: "boolean", default: false },
      json: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return "help";
  const num = (k: keyof typeof values, min: number, max: number, int = true): number => {
    const raw = values[k];
    const n = Number(raw);
    if (!(Number.isFinite(n) && n >= min && n <= max) || (int && !Number.isInteger(n))) {
      throw new Error(`--${k} must be ${int ? "an integer " : ""}in [${min}, ${max}], got ${raw}`);
    }
    return n;
  };
  if (!PROTOCOLS.includes(values.protocol as Protocol)) {
    throw new Error(`--protocol must be one of ${PROTOCOLS.join(", ")}`);
  }
  if (values.sink !== "archive" && values.sink !== "none") throw new Error("--sink must be archive or none");
  if (!["trace", "debug", "info", "warn", "error"].includes(values["log-level"])) {
    throw new Error("--log-level must be trace, debug, info, warn or error");
  }
  if (parseSize(values["max-inflight-bytes"]) === undefined) {
    throw new Error(`--max-inflight-bytes takes a size such as 64MiB, got ${values["max-inflight-bytes"]}`);
  }
  if (values["gateway-workers"] !== undefined && !/^([1-9]\d{0,2}|auto)$/.test(values["gateway-workers"])) {
    throw new Error(`--gateway-workers takes a count or "auto", got ${values["gateway-workers"]}`);
  }
  return {
    protocol: values.protocol as Protocol,
    rate: values.rate === undefined ? undefined : num("rate", 1, 10_000_000, false),
    factor: num("factor", 1, 100, false),
    durationS: num("duration", 1, 600, false),
    calibrateS: num("calibrate", 1, 120, false),
    warmupS: num("warmup", 0, 60, false),
    calibrationLanes: num("calibration-lanes", 1, 4096),
    records: num("records", 20, 100_000),
    recordSize: num("record-size", 1, 1 << 20),
    clients: num("clients", 1, 256),
    connections: num("connections", 1, 1024),
    maxOutstanding: num("max-outstanding", 1, 4096),
    retryBudgetS: num("retry-budget", 1, 600, false),
    requestTimeoutS: num("request-timeout", 1, 300, false),
    rssBoundMiB: num("rss-bound-mib", 16, 1 << 20),
    maxInflightBytes: values["max-inflight-bytes"],
    gatewayWorkers: values["gateway-workers"],
    partitions: num("partitions", 1, 256),
    sink: values.sink,
    drainTimeoutS: num("drain-timeout", 10, 3600),
    logLevel: values["log-level"],
    keep: values.keep,
    json: values.json,
  };
}

const root = resolve(import.meta.dirname, "../../..");
const bin = join(root, "bin/sluice");
const t0 = Date.now();
const clock = () => `${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s`;
const log = (line: string) => console.log(`${clock()} ${line}`);

const fmt = (n: number) => Math.round(n).toLocaleString("en-US").replace(/,/g, " ");
const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;

/** The gateway's /metrics, polled while the run goes: the largest in-flight byte count seen. */
class MetricsPoller {
  peakInflightBytes = 0;
  lastInflightBytes = 0;
  polls = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly admin: string) {}

  start(intervalMs = 1_000): void {
    this.timer = setInterval(() => void this.poll(), intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async text(): Promise<string | undefined> {
    const res = await fetch(`${this.admin}/metrics`, { signal: AbortSignal.timeout(5_000) }).catch(
      () => undefined,
    );
    return res?.ok ? res.text() : undefined;
  }

  private async poll(): Promise<void> {
    const text = await this.text();
    if (!text) return;
    this.polls++;
    let sum = 0;
    for (const m of text.matchAll(/^sluice_receiver_inflight_bytes(?:\{[^}]*\})? (\S+)$/gm))
      sum += Number(m[1]);
    this.lastInflightBytes = sum;
    this.peakInflightBytes = Math.max(this.peakInflightBytes, sum);
  }
}

/**
 * The kernel's count of connections dropped because a listen queue was full
 * (TcpExtListenOverflows): machine-wide, so other work on the machine adds to
 * it, but a jump during the run means clients' connects outran the gateway's
 * accept loop (which shows as connection resets and stalls).
 */
function listenOverflows(): number | undefined {
  try {
    const lines = readFileSync("/proc/net/netstat", "utf8").split("\n");
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const keys = (lines[i] as string).split(" ");
      const values = (lines[i + 1] as string).split(" ");
      if (keys[0] !== "TcpExt:") continue;
      const at = keys.indexOf("ListenOverflows");
      return at > 0 ? Number(values[at]) : undefined;
    }
  } catch {
    // Not Linux, or no /proc.
  }
  return undefined;
}

/** Counters of one metric, summed by one label. */
function counterByLabel(text: string, metric: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = new RegExp(`^${metric}\\{([^}]*)\\} (\\S+)$`, "gm");
  for (const m of text.matchAll(re)) {
    const value = new RegExp(`${label}="([^"]*)"`).exec(m[1] ?? "")?.[1] ?? "";
    out[value] = (out[value] ?? 0) + Number(m[2]);
  }
  return out;
}

async function lagByGroup(admin: string): Promise<Map<string, bigint> | undefined> {
  const res = await fetch(`${admin}/api/lag`, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
  if (!res?.ok) return undefined;
  const body = (await res.json()) as { lag: { group: string; lag: string }[] };
  const by = new Map<string, bigint>();
  for (const l of body.lag) by.set(l.group, (by.get(l.group) ?? 0n) + BigInt(l.lag));
  return by;
}

/** Lag 0 on every group twice in a row, a second apart, within the timeout. */
async function waitForZeroLag(admin: string, timeoutMs: number): Promise<{ ok: boolean; last: string }> {
  const deadline = Date.now() + timeoutMs;
  let zeroInARow = 0;
  let last = "unavailable";
  let lastLog = 0;
  while (Date.now() < deadline) {
    const by = await lagByGroup(admin);
    if (by) last = [...by].map(([g, l]) => `${g}=${l}`).join(" ");
    const zero = by !== undefined && by.size > 0 && [...by.values()].every((l) => l === 0n);
    zeroInARow = zero ? zeroInARow + 1 : 0;
    if (zeroInARow >= 2) return { ok: true, last };
    if (Date.now() - lastLog > 15_000) {
      log(`processor lag: ${last}`);
      lastLog = Date.now();
    }
    await sleep(1_000);
  }
  return { ok: false, last };
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

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

const options = (() => {
  try {
    return parseOptions(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
})();
if (options === "help") {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const opts: Options = options;

const run = `overload-${t0.toString(36)}`;
const runDir = mkdtempSync(join(tmpdir(), "sluice-overload-"));
const logDir = join(runDir, "logs");
mkdirSync(logDir);
const kafka = new KafkaServer({
  dataDir: join(runDir, "kafka"),
  partitions: opts.partitions,
  log: (line) => {
    if (/ ready at /.test(line)) log(`[kafka] ${line}`);
  },
});
const roles: Role[] = [];
let generator: Generator | undefined;

async function cleanup(): Promise<void> {
  generator?.stop();
  generator?.close();
  for (const r of roles) await r.stop().catch(() => undefined);
  await kafka.stop().catch(() => undefined);
}

function config(ports: { grpc: number; http: number }, adminPort: number, topics: Record<string, string>) {
  const gateway: Record<string, unknown> = {};
  gateway.max_inflight_bytes = opts.maxInflightBytes;
  if (opts.gatewayWorkers !== undefined) {
    gateway.workers = opts.gatewayWorkers === "auto" ? "auto" : Number(opts.gatewayWorkers);
  }
  return {
    data_dir: join(runDir, "data"),
    receivers: {
      otlp: {
        protocols: {
          grpc: { endpoint: `127.0.0.1:${ports.grpc}`, max_recv_msg_size_mib: 16 },
          http: { endpoint: `127.0.0.1:${ports.http}` },
        },
      },
    },
    log: {
      backend: "kafka",
      kafka: { brokers: [kafka.bootstrap], partitions: opts.partitions },
      topics,
    },
    gateway,
    // The window covers every record a partition gets in the run, so a client's resent copy is
    // always recognised, however late the resend (docs/pipeline.md: the dedup window).
    processors: { dedup: { window_size: 2_000_000 } },
    exporters: { file_archive: { path: join(runDir, "archive"), prefix: run } },
    pipelines: {
      logs: {
        receivers: ["otlp"],
        processors: ["dedup"],
        exporters: opts.sink === "archive" ? ["file_archive"] : [],
      },
    },
    admin: { endpoint: `127.0.0.1:${adminPort}` },
    telemetry: { log_level: opts.logLevel },
  };
}

function phaseRow(s: PhaseStats, offeredRate: string, records: number): string[] {
  const refused = Object.entries(s.answers)
    .filter(([k]) => !/^(200|grpc OK)$/.test(k))
    .map(([k, v]) => `${k} ×${fmt(v)}`)
    .join(", ");
  return [
    s.name,
    offeredRate,
    fmt(s.windowAckedRecords / s.windowSeconds),
    fmt(s.offeredRequests),
    fmt(s.issuedRequests),
    fmt(s.droppedAtClient),
    fmt(s.attempts),
    fmt(s.answerClasses.ok),
    refused || "none",
    fmt(s.answerClasses.failure),
    `${fmt(s.ackedRequests)} (${fmt(s.ackedRequests * records)} records)`,
    fmt(s.abandonedRequests),
    Number.isNaN(s.ackLatencyMs.p50) ? "n/a" : `${fmt(s.ackLatencyMs.p50)} / ${fmt(s.ackLatencyMs.p99)}`,
  ];
}

async function main(): Promise<number> {
  if (!existsSync(join(root, "dist/cli/main.js"))) throw new Error("dist/ is missing: run `npm run build`");
  log(`run ${run}, folder ${runDir}`);
  log("starting Kafka on loopback");
  await kafka.start();

  const ports = { grpc: await freePort(), http: await freePort() };
  const gatewayAdminPort = await freePort();
  const processAdminPort = await freePort();
  const topics = { logs: `${run}.logs`, events: `${run}.events`, dead_letter: `${run}.dead-letter` };
  const gatewayConfig = join(runDir, "gateway.yaml");
  const processConfig = join(runDir, "process.yaml");
  writeFileSync(gatewayConfig, stringifyYaml(config(ports, gatewayAdminPort, topics)));
  writeFileSync(processConfig, stringifyYaml(config(ports, processAdminPort, topics)));
  const dataDir = join(runDir, "data");
  const gatewayAdmin = `http://127.0.0.1:${gatewayAdminPort}`;
  const processAdmin = `http://127.0.0.1:${processAdminPort}`;
  const gateway = new Role({
    name: "gateway",
    bin,
    args: ["gateway", "--config", gatewayConfig, "--data-dir", dataDir],
    admin: gatewayAdmin,
    logDir,
    log,
    restartOnExit: false,
  });
  roles.push(gateway);
  await gateway.start();
  let processor: Role | undefined;
  if (opts.sink === "archive") {
    processor = new Role({
      name: "process",
      bin,
      args: ["process", "--config", processConfig, "--data-dir", dataDir],
      admin: processAdmin,
      logDir,
      log,
      restartOnExit: false,
    });
    roles.push(processor);
    await processor.start();
  }
  const gatewayPid = gateway.pid as number;
  const sampler = new RssSampler(gatewayPid, 250);
  const metrics = new MetricsPoller(gatewayAdmin);
  metrics.start();

  const policy = {
    initialBackoffMs: 500,
    maxBackoffMs: 5_000,
    giveUpAfterMs: opts.retryBudgetS * 1000,
  };
  const gen = new Generator({
    run,
    protocol: opts.protocol,
    endpoint: opts.protocol === "grpc" ? `127.0.0.1:${ports.grpc}` : `http://127.0.0.1:${ports.http}`,
    clients: opts.clients,
    connections: opts.connections,
    maxOutstanding: opts.maxOutstanding,
    records: opts.records,
    recordSize: opts.recordSize,
    policy,
    requestTimeoutMs: opts.requestTimeoutS * 1000,
    log,
  });
  generator = gen;
  const budget = parseSize(opts.maxInflightBytes) as number;
  const demand = opts.clients * opts.connections * gen.requestBytes;
  log(
    `${opts.protocol}: ${opts.records} records of ${opts.recordSize} B per request (${fmt(gen.requestBytes)} bytes); ${opts.clients} clients × ${opts.connections} in flight can hold ${mib(demand / 1024)} against a budget of ${mib(budget / 1024)}`,
  );
  if (demand <= budget)
    log("warning: the clients cannot fill the gateway's in-flight budget; raise --clients or --connections");

  // CPU per owner, to tell the gateway's share from what the load generator and Kafka take.
  const cpuNow = () => {
    const u = process.cpuUsage();
    return {
      at: performance.now(),
      machine: machineCpu(),
      gateway: cpuSeconds(processTree(gatewayPid)),
      kafka: kafka.pid ? cpuSeconds(processTree(kafka.pid)) : 0,
      processor: processor?.pid ? cpuSeconds(processTree(processor.pid)) : 0,
      generator: (u.user + u.system) / 1e6,
    };
  };
  type CpuAt = ReturnType<typeof cpuNow>;
  const coresUsed = (a: CpuAt, b: CpuAt) => {
    const wall = (b.at - a.at) / 1000;
    const share = (k: "gateway" | "kafka" | "processor" | "generator") =>
      Number(((b[k] - a[k]) / wall).toFixed(2));
    const m = { busy: b.machine.busy - a.machine.busy, total: b.machine.total - a.machine.total };
    return {
      seconds: Number(wall.toFixed(1)),
      /** Cores busy on the whole machine, whoever used them. */
      machine: m.total > 0 ? Number(((m.busy / m.total) * b.machine.cpus).toFixed(2)) : Number.NaN,
      cpus: b.machine.cpus,
      gateway: share("gateway"),
      kafka: share("kafka"),
      processor: share("processor"),
      generator: share("generator"),
    };
  };
  const cpu: Record<string, ReturnType<typeof coresUsed>> = {};

  // Phase 1: calibrate.
  const cpuCalibration = cpuNow();
  const calibrations: PhaseStats[] = [];
  let sustainable = opts.rate;
  if (sustainable === undefined) {
    sampler.phase("calibration");
    // The most records/s a closed loop gets acknowledged without a refusal: from the starting
    // concurrency, doubled while that still gains 10 % and stays refusal-free (and within what the
    // clients can hold and the budget admits); halved instead when the start already sees refusals.
    const maxLanes = Math.min(
      opts.clients * opts.connections,
      Math.max(1, Math.floor(budget / gen.requestBytes)),
    );
    let lanes = Math.min(opts.calibrationLanes, maxLanes);
    let best: number | undefined;
    for (let round = 1; round <= 4; round++) {
      log(
        `calibration ${round}: closed loop, ${lanes} requests outstanding, ${opts.warmupS} s + ${opts.calibrateS} s`,
      );
      const s = await gen.closedLoop(
        `calibration ${round} (${lanes} in flight)`,
        lanes,
        opts.warmupS * 1000,
        opts.calibrateS * 1000,
      );
      calibrations.push(s);
      const rate = s.windowAckedRecords / s.windowSeconds;
      const refused = s.attempts - s.answerClasses.ok;
      log(
        `calibration ${round}: ${fmt(rate)} records/s acknowledged, ${refused} non-success answers, ack p50 ${fmt(s.ackLatencyMs.p50)} ms`,
      );
      if (refused > 0) {
        if (best !== undefined || lanes === 1) break;
        lanes = Math.max(1, Math.floor(lanes / 2));
        continue;
      }
      const gained = best === undefined || rate > best * 1.1;
      best = Math.max(best ?? 0, rate);
      if (!gained || lanes * 2 > maxLanes) break;
      lanes *= 2;
    }
    sustainable = best;
    if (!sustainable || sustainable <= 0) throw new Error("calibration found no refusal-free rate");
  }
  const sustainableRate = sustainable as number;
  if (opts.rate === undefined) cpu.calibration = coresUsed(cpuCalibration, cpuNow());

  // Phase 2: overload.
  const offeredRecords = sustainableRate * opts.factor;
  const requestsPerSecond = offeredRecords / opts.records;
  sampler.phase("overload");
  const cpuOverload = cpuNow();
  const overflowsAtStart = listenOverflows();
  log(
    `overload: ${opts.factor}× ${fmt(sustainableRate)} = ${fmt(offeredRecords)} records/s offered (${requestsPerSecond.toFixed(1)} requests/s) for ${opts.durationS} s`,
  );
  let ackedBefore = gen.ledger.ackedCount();
  const progress = setInterval(() => {
    const acked = gen.ledger.ackedCount();
    log(
      `overload: ${fmt((acked - ackedBefore) / 10)} records/s acknowledged in the last 10 s; gateway in flight ${mib(metrics.lastInflightBytes / 1024)} (peak ${mib(metrics.peakInflightBytes / 1024)})`,
    );
    ackedBefore = acked;
  }, 10_000);
  const overload = await gen
    .openLoop("overload", requestsPerSecond, opts.durationS * 1000)
    .finally(() => clearInterval(progress));
  log(
    `overload done: ${fmt(overload.ackedRecords)} records acknowledged, ${fmt(overload.droppedAtClient)} requests dropped at the client, ${fmt(overload.abandonedRequests)} given up; settled after ${overload.settledSeconds.toFixed(1)} s`,
  );
  cpu.overload = coresUsed(cpuOverload, cpuNow());
  sampler.phase("after");
  const overflowsAtEnd = listenOverflows();
  await sleep(1_000);
  metrics.stop();
  const metricsText = (await metrics.text()) ?? "";

  // Peak RSS: the sampled peaks, and each live process's own high-water mark (VmHWM).
  const rss: RssReport = await sampler.stop();
  const hwmByPid: Record<number, number> = {};
  for (const pid of rss.pids) {
    const hwm = statusKiB(pid, "VmHWM");
    if (hwm !== undefined) hwmByPid[pid] = hwm;
  }
  const peakPerProcessKiB = Math.max(0, ...Object.values(rss.peakByPid), ...Object.values(hwmByPid));

  // Drain: the processor catches up, then the audit.
  let drain: { ok: boolean; last: string } = { ok: true, last: "no sink" };
  if (processor) {
    log(`waiting for the processor to catch up (at most ${opts.drainTimeoutS} s)`);
    const drainStart = Date.now();
    drain = await waitForZeroLag(processAdmin, opts.drainTimeoutS * 1000);
    log(
      drain.ok
        ? `processor caught up in ${((Date.now() - drainStart) / 1000).toFixed(0)} s`
        : `lag left: ${drain.last}`,
    );
  }

  const ledger = gen.ledger;
  log("reading both record topics back from Kafka");
  const inKafka = new IdCounts(ledger.sent);
  const scans = await scanKafkaIds(kafka.bootstrap, [topics.logs, topics.events], run, inKafka, 15 * 60_000);
  const dlq = (await topicSizes(kafka.bootstrap, [topics.dead_letter])).get(topics.dead_letter) ?? 0;
  const audits: { audit: Audit; rule: "at least once" | "exactly once" }[] = [
    { audit: audit("kafka", ledger, inKafka), rule: "at least once" },
  ];
  if (processor) {
    log("reading the archive back");
    const inArchive = new IdCounts(ledger.sent);
    let objects = 0;
    for (const f of files(join(runDir, "archive"))) {
      if (!f.endsWith(".jsonl.gz")) continue;
      objects++;
      scanIds(gunzipSync(readFileSync(f)), run, inArchive);
    }
    log(`${objects} archive objects read`);
    audits.push({ audit: audit("archive", ledger, inArchive), rule: "exactly once" });
  }

  // Crashes: any sluice process that exited without being asked, any gateway process that left the tree.
  const crashes = [...roles.flatMap((r) => r.unplannedExits)];
  if (rss.rootGone) crashes.push(`gateway pid ${gatewayPid} left during the run`);
  for (const pid of rss.vanished)
    if (pid !== gatewayPid)
      crashes.push(`gateway process ${pid} (child of ${gatewayPid}) exited during the run`);

  const all = [...calibrations, overload];
  const failures = all.reduce((n, s) => n + s.answerClasses.failure, 0);
  const refusals = all.reduce((n, s) => n + s.answerClasses["retryable refusal"], 0);
  const failureSamples = all.flatMap((s) => s.failureSamples).slice(0, 10);
  const bound = opts.rssBoundMiB * 1024;
  const checks: Check[] = [
    {
      name: "every refusal retryable",
      ok: failures === 0,
      detail:
        failures === 0
          ? `${fmt(refusals)} refusals, all ${opts.protocol === "grpc" ? "RESOURCE_EXHAUSTED/UNAVAILABLE with RetryInfo" : "429/503 with Retry-After"}`
          : `${fmt(failures)} answers were neither success nor a retryable refusal: ${failureSamples.join("; ")}`,
    },
    {
      name: "peak RSS per gateway process",
      ok: peakPerProcessKiB > 0 && peakPerProcessKiB <= bound,
      detail: `${mib(peakPerProcessKiB)} (bound ${opts.rssBoundMiB} MiB); whole tree ${mib(rss.peakTreeKiB)} over ${rss.pids.length} process(es), ${rss.samples} samples every ${rss.intervalMs} ms`,
    },
    {
      name: "nothing crashed",
      ok: crashes.length === 0,
      detail:
        crashes.length === 0
          ? `gateway pid(s) ${rss.pids.join(", ")}${processor ? " and the processor" : ""} stayed up`
          : crashes.join("; "),
    },
  ];
  if (processor) {
    checks.push({
      name: "processor drained",
      ok: drain.ok,
      detail: drain.ok ? "consumer lag 0" : `lag left after ${opts.drainTimeoutS} s: ${drain.last}`,
    });
  }
  for (const { audit: a, rule } of audits) {
    const failed = rule === "exactly once" ? failedExactlyOnce(a) : failedAtLeastOnce(a);
    checks.push({
      name: `${a.name}: every acknowledged record, ${rule}`,
      ok: !failed,
      detail: `${fmt(a.routedAcked)} acknowledged, ${fmt(a.missing)} missing, ${fmt(a.duplicatedIds)} duplicated${rule === "at least once" ? " (allowed)" : ""}, ${fmt(a.extraUnacked)} unacknowledged also present (allowed)`,
    });
  }

  // Report.
  const offeredRow = (s: PhaseStats) =>
    s.name.startsWith("calibration") ? "closed loop" : fmt(offeredRecords);
  const table = markdownTable(
    [
      "phase",
      "offered rec/s",
      "acked rec/s",
      "offered req",
      "issued req",
      "dropped at client",
      "attempts",
      "ok answers",
      "refused (by status)",
      "failed",
      "acknowledged req",
      "given up",
      "ack ms p50 / p99",
    ],
    all.map((s) => phaseRow(s, offeredRow(s), opts.records)),
  );
  const refusedByReason = counterByLabel(metricsText, "sluice_receiver_refused_requests_total", "reason");
  const goodput = overload.windowAckedRecords / overload.windowSeconds;
  const overflows =
    overflowsAtStart === undefined || overflowsAtEnd === undefined
      ? undefined
      : overflowsAtEnd - overflowsAtStart;
  console.log(
    `\noverload run ${run}: ${opts.protocol}, ${opts.records} records × ${opts.recordSize} B per request (${fmt(gen.requestBytes)} bytes), ${opts.clients} clients × ${opts.connections} in flight, ≤${opts.maxOutstanding} outstanding each; gateway.max_inflight_bytes ${opts.maxInflightBytes}`,
  );
  console.log(
    `sustainable ${fmt(sustainableRate)} records/s (${opts.rate === undefined ? "calibrated" : "--rate"}); offered ${opts.factor}× = ${fmt(offeredRecords)} records/s for ${opts.durationS} s\n`,
  );
  console.log(table);
  console.log(
    `\nacknowledged during the overload window: ${fmt(goodput)} records/s, ${((100 * goodput) / sustainableRate).toFixed(0)} % of the sustainable rate`,
  );
  console.log(
    `gateway: peak in-flight ${mib(metrics.peakInflightBytes / 1024)} of ${mib(budget / 1024)} (polled each second), refused requests by reason ${JSON.stringify(refusedByReason)}`,
  );
  console.log(
    `CPU, cores used: ${Object.entries(cpu)
      .map(
        ([p, c]) =>
          `${p} (${c.seconds} s): gateway ${c.gateway}, Kafka ${c.kafka}, processor ${c.processor}, load generator ${c.generator}; whole machine ${c.machine} of ${c.cpus}`,
      )
      .join("; ")}`,
  );
  if (overflows !== undefined) {
    console.log(`listen queue overflows during the overload (kernel, machine-wide): ${fmt(overflows)}`);
  }
  console.log(
    `peak RSS by phase (tree): ${Object.entries(rss.peakByPhase)
      .map(([p, k]) => `${p} ${mib(k)}`)
      .join(", ")}; VmHWM by pid: ${Object.entries(hwmByPid)
      .map(([p, k]) => `${p} ${mib(k)}`)
      .join(", ")}`,
  );
  console.log(
    `kafka: ${scans.map((s) => `${s.topic} ${fmt(s.messages)} messages / ${fmt(s.ids)} records`).join(", ")}; dead-letter ${dlq} messages`,
  );
  console.log(
    `\naudit:\n${auditTable(
      audits.map((x) => x.audit),
      {
        nameHeader: "where",
        failed: (a) => (a.name === "kafka" ? failedAtLeastOnce(a) : failedExactlyOnce(a)),
      },
    )}`,
  );
  for (const { audit: a } of audits) {
    if (a.missing) console.log(`  ${a.name}: missing seqs, first ${a.sampleMissing.join(", ")}`);
    if (a.duplicatedIds) {
      console.log(
        `  ${a.name}: ${fmt(a.duplicatedIds)} ids more than once (${fmt(a.duplicatedResent)} in a resent request), first ${a.sampleDuplicated.join(", ")}`,
      );
    }
  }
  console.log(
    `\n${markdownTable(
      ["check", "result", "detail"],
      checks.map((c) => [c.name, c.ok ? "PASS" : "FAIL", c.detail]),
    )}`,
  );
  if (refusals === 0)
    console.log("\nnote: the gateway refused nothing, so this run did not reach its limits");
  const ok = checks.every((c) => c.ok);
  console.log(`\n${ok ? "PASS" : "FAIL"} (${clock().trim()})`);

  if (opts.json) {
    const result = {
      run,
      options: opts,
      requestBytes: gen.requestBytes,
      sustainableRecordsPerSecond: sustainableRate,
      offeredRecordsPerSecond: offeredRecords,
      phases: all,
      overloadAckedRecordsPerSecond: goodput,
      gateway: {
        maxInflightBytes: budget,
        peakInflightBytes: metrics.peakInflightBytes,
        refusedRequestsByReason: refusedByReason,
      },
      listenOverflows: overflows,
      cpuCoresUsed: cpu,
      rss: { ...rss, hwmByPidKiB: hwmByPid, peakPerProcessKiB, boundMiB: opts.rssBoundMiB },
      kafka: { topics: scans, deadLetterMessages: dlq },
      audits: audits.map((x) => ({ ...x.audit, rule: x.rule })),
      crashes,
      drain,
      checks,
      ok,
      seconds: (Date.now() - t0) / 1000,
    };
    writeFileSync(opts.json, `${JSON.stringify(result, null, 2)}\n`);
    log(`result written to ${opts.json}`);
  }
  return ok ? 0 : 1;
}

// Everything above is bounded on its own; this is the backstop.
const deadlineMs =
  15 * 60_000 +
  (opts.durationS + 4 * (opts.calibrateS + opts.warmupS) + 5 * opts.retryBudgetS + opts.drainTimeoutS) * 1000;
await runBounded(main, { label: "run", deadlineMs, runDir, keep: opts.keep, log, cleanup });
