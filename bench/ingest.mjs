#!/usr/bin/env node
// `npm run bench:ingest`: the same OTLP load against sluice's gateway and the
// OpenTelemetry Collector, both writing to one local Kafka broker with acks=all
// through an idempotent producer, each server pinned to the same CPU set.
// Reports throughput, ack latency, CPU seconds per million records and peak
// RSS per target, and the ratio sluice / Collector. Needs `npm run build`.
// sluice runs one gateway worker process per CPU of its set (--sluice-workers);
// CPU time and peak RSS are then summed over the primary and its workers.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Kafka, logLevel } from "kafkajs";
import { buildCollector } from "./build-collector.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const HOST = "127.0.0.1";
const COLLECTOR_TOPIC = "otlp_logs";
const SLUICE_TOPICS = ["sluice.logs", "sluice.events", "sluice.dead-letter"];
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 15_000;
const CLK_TCK = 100;

const USAGE = `usage: npm run bench:ingest -- [options]
  --targets LIST       sluice,otelcol (default both)
  --protocols LIST     grpc,http/protobuf,http/json (default grpc,http/protobuf)
  --warmup S           seconds of load before measuring, per target and protocol (default 5)
  --duration S         measured seconds per target and protocol (default 15)
  --records N          records per request (default 100)
  --record-size N      body bytes per record (default 200)
  --concurrency N      requests in flight (default 32)
  --keys N             distinct service.name values (default 16)
  --threads N          load generator worker threads (default 1)
  --partitions N       partitions of every topic (default 8)
  --server-cpus SET    taskset CPU list for the server under test (default 1)
  --load-cpus SET      taskset CPU list for the load generator (default 0)
  --kafka-cpus SET     taskset CPU list for the Kafka broker (default 0; "" leaves it unpinned)
  --sluice-max-batch-bytes SIZE
                       log.kafka.max_batch_bytes for sluice (default: the gateway's own, 16MiB)
  --sluice-workers N   gateway.workers for sluice (default: the number of CPUs in --server-cpus)
  --profile DIR        run sluice with --cpu-prof, writing .cpuprofile files to DIR
  --json FILE          also write all results as JSON to FILE`;

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      targets: { type: "string", default: "sluice,otelcol" },
      protocols: { type: "string", default: "grpc,http/protobuf" },
      warmup: { type: "string", default: "5" },
      duration: { type: "string", default: "15" },
      records: { type: "string", default: "100" },
      "record-size": { type: "string", default: "200" },
      concurrency: { type: "string", default: "32" },
      keys: { type: "string", default: "16" },
      threads: { type: "string", default: "1" },
      partitions: { type: "string", default: "8" },
      "server-cpus": { type: "string", default: "1" },
      "load-cpus": { type: "string", default: "0" },
      "kafka-cpus": { type: "string", default: "0" },
      "sluice-max-batch-bytes": { type: "string" },
      "sluice-workers": { type: "string" },
      profile: { type: "string" },
      json: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  const num = (k, max) => {
    const n = Number(values[k]);
    if (!(n > 0 && n <= max)) throw new Error(`--${k} must be in (0, ${max}], got ${values[k]}`);
    return n;
  };
  const targets = values.targets.split(",").filter(Boolean);
  for (const t of targets) if (t !== "sluice" && t !== "otelcol") throw new Error(`unknown target ${t}`);
  const protocols = values.protocols.split(",").filter(Boolean);
  for (const p of protocols) {
    if (!["grpc", "http/protobuf", "http/json"].includes(p)) throw new Error(`unknown protocol ${p}`);
  }
  const cpus = availableParallelism();
  for (const k of ["server-cpus", "load-cpus", "kafka-cpus"]) {
    for (const c of values[k].split(/[,-]/).filter(Boolean)) {
      if (!(Number(c) >= 0 && Number(c) < cpus))
        throw new Error(`--${k}: CPU ${c} does not exist (${cpus} CPUs)`);
    }
  }
  // Workers share the server's CPU set (children inherit taskset's affinity): one per CPU keeps every core busy.
  const serverCpuCount = values["server-cpus"] ? cpuCount(values["server-cpus"]) : cpus;
  return {
    help: values.help,
    targets,
    protocols,
    warmup: num("warmup", 600),
    duration: num("duration", 3600),
    records: String(num("records", 100_000)),
    recordSize: String(num("record-size", 1 << 20)),
    concurrency: String(num("concurrency", 10_000)),
    keys: String(num("keys", 100_000)),
    threads: String(num("threads", 64)),
    partitions: num("partitions", 1000),
    serverCpus: values["server-cpus"],
    loadCpus: values["load-cpus"],
    kafkaCpus: values["kafka-cpus"],
    sluiceMaxBatchBytes: values["sluice-max-batch-bytes"],
    sluiceWorkers: values["sluice-workers"] === undefined ? serverCpuCount : num("sluice-workers", 1024),
    profile: values.profile ? resolve(values.profile) : undefined,
    json: values.json,
  };
}

const log = (line) => process.stderr.write(`[bench] ${line}\n`);

/** CPUs in a taskset list such as "1", "0-3" or "0,2-3". */
function cpuCount(list) {
  let n = 0;
  for (const part of list.split(",").filter(Boolean)) {
    const [from, to] = part.split("-").map(Number);
    n += to === undefined ? 1 : to - from + 1;
  }
  return n;
}

function statFields(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** The server and the processes it forked (sluice's gateway workers; the Collector forks none). */
function serverPids(pid) {
  const pids = [pid];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (Number(statFields(name)[1]) === pid) pids.push(Number(name));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return pids;
}

/** utime+stime in seconds of the server and its live children, threads included. */
function cpuSeconds(pid) {
  let ticks = 0;
  for (const p of serverPids(pid)) {
    const fields = statFields(p);
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / CLK_TCK;
}

/** A /proc/<pid>/status field in KiB, summed over the server and its live children. */
function statusKiB(pid, field) {
  let sum = 0;
  for (const p of serverPids(pid)) {
    const m = readFileSync(`/proc/${p}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    if (!m) return Number.NaN;
    sum += Number(m[1]);
  }
  return sum;
}

function portOpen(port) {
  return new Promise((res) => {
    const s = createConnection({ host: HOST, port }, () => {
      s.destroy();
      res(true);
    });
    s.once("error", () => res(false));
    s.setTimeout(1000, () => {
      s.destroy();
      res(false);
    });
  });
}

function freePorts(n) {
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise((res, rej) => {
          import("node:net").then(({ createServer }) => {
            const srv = createServer();
            srv.once("error", rej);
            srv.listen(0, HOST, () => {
              const { port } = srv.address();
              srv.close(() => res(port));
            });
          });
        }),
    ),
  );
}

/** A child this script started; it is only ever signalled through its own pid. */
class Child {
  constructor(name, cpus, cmd, args, opts = {}) {
    this.name = name;
    const [bin, argv] = cpus ? ["taskset", ["-c", cpus, cmd, ...args]] : [cmd, args];
    // taskset execs the command, so the pid below is the server's own.
    this.proc = spawn(bin, argv, {
      stdio: ["ignore", "pipe", "pipe"],
      cwd: opts.cwd,
      env: opts.env,
    });
    this.stderr = "";
    const keep = (d) => {
      this.stderr = (this.stderr + d).slice(-8192);
    };
    this.proc.stderr.on("data", keep);
    // Servers log to stdout (sluice's pino does); the load generator's stdout is its result, read by the caller.
    if (!opts.keepStdout) this.proc.stdout.on("data", keep);
    this.exited = new Promise((res) => this.proc.once("exit", (code, signal) => res(signal ?? code)));
  }

  get pid() {
    return this.proc.pid;
  }

  get running() {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async stop() {
    if (!this.running) return;
    this.proc.kill("SIGTERM");
    const timer = setTimeout(() => this.running && this.proc.kill("SIGKILL"), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }
}

async function waitFor(what, check, child) {
  const until = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < until) {
    if (child && !child.running) throw new Error(`${what} exited early:\n${child.stderr}`);
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not ready after ${READY_TIMEOUT_MS} ms`);
}

async function httpOk(url) {
  try {
    const res = await fetch(url);
    return res.ok;
  } catch {
    return false;
  }
}

async function startSluice(dir, brokers, opts) {
  const [grpc, http, admin] = await freePorts(3);
  const config = join(dir, "sluice.yaml");
  await writeFile(
    config,
    [
      `data_dir: ${join(dir, "data")}`,
      "receivers:",
      "  otlp:",
      "    protocols:",
      `      grpc: { endpoint: "${HOST}:${grpc}", max_recv_msg_size_mib: 16 }`,
      `      http: { endpoint: "${HOST}:${http}" }`,
      "pipelines:",
      "  logs: { receivers: [otlp], exporters: [] }",
      "log:",
      "  backend: kafka",
      "  kafka:",
      `    brokers: ["${brokers}"]`,
      `    partitions: ${opts.partitions}`,
      "    compression: none",
      ...(opts.sluiceMaxBatchBytes ? [`    max_batch_bytes: ${opts.sluiceMaxBatchBytes}`] : []),
      `gateway: { workers: ${opts.sluiceWorkers} }`,
      `admin: { endpoint: "${HOST}:${admin}" }`,
      "telemetry: { log_level: warn }",
      "",
    ].join("\n"),
  );
  const prof = opts.profile ? ["--cpu-prof", `--cpu-prof-dir=${opts.profile}`] : [];
  const child = new Child("sluice", opts.serverCpus, process.execPath, [
    ...prof,
    join(ROOT, "dist", "cli", "main.js"),
    "gateway",
    "--config",
    config,
  ]);
  await waitFor("sluice gateway", () => httpOk(`http://${HOST}:${admin}/readyz`), child);
  return { child, grpc, http };
}

async function startCollector(dir, brokers, opts) {
  const bin = await buildCollector(log);
  const [grpc, http] = await freePorts(2);
  const config = join(dir, "otelcol.yaml");
  await writeFile(
    config,
    [
      "receivers:",
      "  otlp:",
      "    protocols:",
      `      grpc: { endpoint: "${HOST}:${grpc}", max_recv_msg_size_mib: 16 }`,
      `      http: { endpoint: "${HOST}:${http}" }`,
      "exporters:",
      "  kafka:",
      `    brokers: ["${brokers}"]`,
      `    logs: { topic: ${COLLECTOR_TOPIC}, encoding: otlp_proto }`,
      // Keyed by resource, as sluice keys by service.name, so per-service order holds on both sides.
      "    partition_logs_by_resource_attributes: true",
      // acks=all makes franz-go produce idempotently (it only turns idempotence off for acks 0 and 1).
      "    producer: { required_acks: -1, compression: none }",
      // Without the queue the OTLP answer waits for Kafka's ack, which is the promise sluice makes;
      // with it the Collector would answer once the request is in memory.
      "    sending_queue: { enabled: false }",
      "service:",
      "  telemetry:",
      "    logs: { level: warn }",
      "    metrics: { level: none }",
      "  pipelines:",
      "    logs: { receivers: [otlp], exporters: [kafka] }",
      "",
    ].join("\n"),
  );
  const child = new Child("otelcol", opts.serverCpus, bin, ["--config", config], { cwd: dir });
  await waitFor(
    "OpenTelemetry Collector",
    async () => (await portOpen(grpc)) && (await portOpen(http)),
    child,
  );
  return { child, grpc, http };
}

function runLoad(opts, target, protocol, seconds) {
  const args = [
    join(ROOT, "bench", "load", "main.mjs"),
    "--target",
    target,
    "--protocol",
    protocol,
    "--duration",
    String(seconds),
    "--records",
    opts.records,
    "--record-size",
    opts.recordSize,
    "--concurrency",
    opts.concurrency,
    "--keys",
    opts.keys,
    "--threads",
    opts.threads,
    "--json",
  ];
  const child = new Child("load", opts.loadCpus, process.execPath, args, { keepStdout: true });
  let out = "";
  child.proc.stdout.on("data", (d) => {
    out += d;
  });
  return child.exited.then((code) => {
    if (code !== 0) throw new Error(`load generator exited with ${code}:\n${child.stderr}`);
    return JSON.parse(out);
  });
}

async function topicMessages(admin, topic) {
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, o) => n + Number(o.high), 0);
  } catch {
    return 0;
  }
}

async function measure(opts, name, start, topics, admin, protocol, dir) {
  const server = await start(dir, opts.brokers, opts);
  try {
    const target = `http://${HOST}:${protocol === "grpc" ? server.grpc : server.http}`;
    log(
      `${name} ${protocol}: warm-up ${opts.warmup} s (pid ${server.child.pid}, CPUs ${opts.serverCpus || "all"}` +
        `${name === "sluice" ? `, ${opts.sluiceWorkers} gateway workers` : ""})`,
    );
    await runLoad(opts, target, protocol, opts.warmup);
    const msgs0 = (await Promise.all(topics.map((t) => topicMessages(admin, t)))).reduce((a, b) => a + b, 0);
    const cpu0 = cpuSeconds(server.child.pid);
    log(`${name} ${protocol}: measuring ${opts.duration} s`);
    const load = await runLoad(opts, target, protocol, opts.duration);
    const cpu1 = cpuSeconds(server.child.pid);
    const msgs1 = (await Promise.all(topics.map((t) => topicMessages(admin, t)))).reduce((a, b) => a + b, 0);
    const cpu = cpu1 - cpu0;
    if (Object.keys(load.failures).length > 0) {
      // The server's own account of the refusals is the quickest lead, and its folder is deleted at the end.
      log(
        `${name} ${protocol}: non-success answers; last server output:\n${server.child.stderr.slice(-3000)}`,
      );
    }
    return {
      target: name,
      protocol,
      recordsPerSec: load.recordsPerSec,
      mbPerSec: load.mbPerSec,
      latencyMs: load.latencyMs,
      failures: load.failures,
      recordsOk: load.recordsOk,
      seconds: load.seconds,
      cpuSeconds: cpu,
      cpuUtilisation: cpu / load.seconds,
      cpuSecondsPerMillionRecords: load.recordsOk > 0 ? (cpu / load.recordsOk) * 1e6 : Number.NaN,
      peakRssMiB: statusKiB(server.child.pid, "VmHWM") / 1024,
      kafkaMessages: msgs1 - msgs0,
    };
  } finally {
    await server.child.stop();
  }
}

function table(results) {
  const fmt = (v, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : "n/a");
  const rows = [
    [
      "target",
      "protocol",
      "records/s",
      "MB/s",
      "p50 ms",
      "p99 ms",
      "max ms",
      "CPU s/M rec",
      "CPU util",
      "peak RSS MiB",
      "kafka msgs",
      "non-success",
    ],
  ];
  for (const r of results) {
    rows.push([
      r.target,
      r.protocol,
      fmt(r.recordsPerSec),
      fmt(r.mbPerSec, 2),
      fmt(r.latencyMs.p50, 1),
      fmt(r.latencyMs.p99, 1),
      fmt(r.latencyMs.max, 1),
      fmt(r.cpuSecondsPerMillionRecords, 2),
      fmt(r.cpuUtilisation, 2),
      fmt(r.peakRssMiB, 0),
      String(r.kafkaMessages),
      Object.entries(r.failures)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ") || "0",
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((c, i) => c.padEnd(widths[i])).join("  ")).join("\n");
}

function ratios(results, protocols) {
  const lines = [];
  for (const p of protocols) {
    const ours = results.find((r) => r.target === "sluice" && r.protocol === p);
    const theirs = results.find((r) => r.target === "otelcol" && r.protocol === p);
    if (!ours || !theirs) continue;
    lines.push(
      `${p}: records/s ${(ours.recordsPerSec / theirs.recordsPerSec).toFixed(2)}x, ` +
        `CPU per record ${(ours.cpuSecondsPerMillionRecords / theirs.cpuSecondsPerMillionRecords).toFixed(2)}x ` +
        `(records per CPU-second ${(theirs.cpuSecondsPerMillionRecords / ours.cpuSecondsPerMillionRecords).toFixed(2)}x), ` +
        `p99 ${(ours.latencyMs.p99 / theirs.latencyMs.p99).toFixed(2)}x, ` +
        `peak RSS ${(ours.peakRssMiB / theirs.peakRssMiB).toFixed(2)}x`,
    );
  }
  return lines.join("\n");
}

async function main() {
  const opts = options(process.argv.slice(2));
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!existsSync(join(ROOT, "dist", "scripts", "services", "kafka.js"))) {
    throw new Error("dist/ is missing: run `npm run build` first");
  }
  if (opts.targets.includes("otelcol")) await buildCollector(log);
  if (opts.profile) await mkdir(opts.profile, { recursive: true });
  const { KafkaServer } = await import(join(ROOT, "dist", "scripts", "services", "kafka.js"));
  const work = await mkdtemp(join(tmpdir(), "sluice-bench-"));
  const kafka = new KafkaServer({ dataDir: join(work, "kafka"), partitions: opts.partitions, log });
  const results = [];
  let client;
  try {
    log("starting Kafka");
    await kafka.start();
    opts.brokers = kafka.bootstrap;
    if (opts.kafkaCpus) {
      // -a pins every existing JVM thread, not only the main one.
      const pin = spawn("taskset", ["-a", "-cp", opts.kafkaCpus, String(kafka.pid)], { stdio: "ignore" });
      await new Promise((r) => pin.once("exit", r));
    }
    client = new Kafka({ clientId: "sluice-bench", brokers: [opts.brokers], logLevel: logLevel.NOTHING });
    const admin = client.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [COLLECTOR_TOPIC, ...SLUICE_TOPICS].map((topic) => ({ topic, numPartitions: opts.partitions })),
    });
    try {
      for (const protocol of opts.protocols) {
        for (const name of opts.targets) {
          const dir = join(work, `${name}-${protocol.replace("/", "-")}`);
          await mkdir(dir, { recursive: true });
          const [start, topics] =
            name === "sluice" ? [startSluice, SLUICE_TOPICS] : [startCollector, [COLLECTOR_TOPIC]];
          const r = await measure(opts, name, start, topics, admin, protocol, dir);
          log(
            `${name} ${protocol}: ${Math.round(r.recordsPerSec)} records/s, ${r.cpuSecondsPerMillionRecords.toFixed(2)} CPU s per million`,
          );
          results.push(r);
        }
      }
    } finally {
      await admin.disconnect();
    }
  } finally {
    await kafka.stop();
    await rm(work, { recursive: true, force: true });
  }
  const header =
    `load: ${opts.records} records/request, ${opts.recordSize} B bodies, concurrency ${opts.concurrency}, ${opts.keys} keys, ` +
    `${opts.warmup} s warm-up + ${opts.duration} s measured; server CPUs ${opts.serverCpus || "all"}, ` +
    `sluice gateway workers ${opts.sluiceWorkers}, ` +
    `load CPUs ${opts.loadCpus || "all"}, Kafka CPUs ${opts.kafkaCpus || "all"}, ${opts.partitions} partitions`;
  process.stdout.write(
    `${header}\n\n${table(results)}\n\nsluice / Collector\n${ratios(results, opts.protocols)}\n`,
  );
  if (opts.json) await writeFile(opts.json, `${JSON.stringify({ options: opts, results }, null, 2)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n${USAGE}\n`);
  process.exitCode = 1;
});
