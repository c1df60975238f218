#!/usr/bin/env node
// OTLP logs load generator: a fixed, pre-encoded load against one loopback
// endpoint for a bounded time, reporting throughput and acknowledgement
// latency. Needs `npm run build` (it encodes with the generated protobuf code
// in dist/proto/gen).
import { isIP } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { mergeCounts, summarize } from "./stats.mjs";
import { runLoad } from "./worker.mjs";

const USAGE = `usage: node bench/load/main.mjs --target URL [options]
  --target URL          http://127.0.0.1:4318 (HTTP, path defaults to /v1/logs) or http://127.0.0.1:4317 (gRPC)
  --protocol P          grpc | http/protobuf | http/json (default http/protobuf)
  --record-size N       bytes of body text per record (default 200)
  --records N           records per request (default 100)
  --concurrency N       requests in flight, across all threads (default 32)
  --duration S          seconds to send for (default 10, at most 3600)
  --max-requests N      stop after this many requests (default unbounded within the duration)
  --keys N              distinct service.name values (default 16)
  --threads N           worker threads sharing the concurrency (default 1)
  --grpc-channels N     gRPC connections per thread, lanes spread over them (default 1)
  --grpc-client C       grpc-js (default; what OpenTelemetry's Node exporter uses) or http2
                        (the same frames straight on node:http2, about as cheap per request as
                        the HTTP client)
  --json                print the result as one JSON line instead of text`;

const PROTOCOLS = new Set(["grpc", "http/protobuf", "http/json"]);
const MAX_DURATION_S = 3600;

function positiveInt(name, raw, max = Number.MAX_SAFE_INTEGER) {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new Error(`--${name} must be an integer in 1..${max}, got ${raw}`);
  return n;
}

/** Only loopback: this tool generates load and must never point at someone else's server. */
export function assertLoopbackTarget(target) {
  const url = new URL(target);
  if (url.protocol !== "http:")
    throw new Error(`--target must be http:// (plaintext loopback), got ${url.protocol}`);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const loopback =
    host === "localhost" ||
    (isIP(host) === 4 && host.startsWith("127.")) ||
    (isIP(host) === 6 && host === "::1");
  if (!loopback) throw new Error(`refusing non-loopback target ${host}`);
  if (!url.port) throw new Error("--target needs an explicit port");
  return url;
}

export function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: "string" },
      protocol: { type: "string", default: "http/protobuf" },
      "record-size": { type: "string", default: "200" },
      records: { type: "string", default: "100" },
      concurrency: { type: "string", default: "32" },
      duration: { type: "string", default: "10" },
      "max-requests": { type: "string" },
      keys: { type: "string", default: "16" },
      threads: { type: "string", default: "1" },
      "grpc-channels": { type: "string", default: "1" },
      "grpc-client": { type: "string", default: "grpc-js" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return { help: true };
  if (!values.target) throw new Error("--target is required");
  assertLoopbackTarget(values.target);
  if (values["grpc-client"] !== "grpc-js" && values["grpc-client"] !== "http2")
    throw new Error(`--grpc-client must be grpc-js or http2, got ${values["grpc-client"]}`);
  if (!PROTOCOLS.has(values.protocol))
    throw new Error(`--protocol must be one of ${[...PROTOCOLS].join(", ")}`);
  const duration = Number(values.duration);
  if (!(duration > 0 && duration <= MAX_DURATION_S))
    throw new Error(`--duration must be in (0, ${MAX_DURATION_S}]`);
  const concurrency = positiveInt("concurrency", values.concurrency, 10_000);
  const threads = Math.min(positiveInt("threads", values.threads, 64), concurrency);
  return {
    target: values.target,
    protocol: values.protocol,
    recordSize: positiveInt("record-size", values["record-size"], 1 << 20),
    records: positiveInt("records", values.records, 100_000),
    concurrency,
    durationMs: duration * 1000,
    maxRequests: values["max-requests"]
      ? positiveInt("max-requests", values["max-requests"])
      : Number.POSITIVE_INFINITY,
    keys: positiveInt("keys", values.keys, 100_000),
    threads,
    grpcChannels: positiveInt("grpc-channels", values["grpc-channels"], 1024),
    grpcClient: values["grpc-client"],
    json: values.json,
  };
}

function runInWorker(job) {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL("./worker.mjs", import.meta.url), { workerData: { benchLoad: job } });
    w.once("message", (m) => (m.error ? reject(new Error(m.error)) : resolve(m)));
    w.once("error", reject);
  });
}

export async function generate(opts) {
  const jobs = [];
  let lanes = 0;
  for (let t = 0; t < opts.threads; t++) {
    const share = Math.floor(opts.concurrency / opts.threads) + (t < opts.concurrency % opts.threads ? 1 : 0);
    const maxRequests = Number.isFinite(opts.maxRequests)
      ? Math.ceil(opts.maxRequests / opts.threads)
      : Number.POSITIVE_INFINITY;
    jobs.push({ ...opts, concurrency: share, maxRequests, lanesOffset: lanes });
    lanes += share;
  }
  const parts = await Promise.all(jobs.map((j) => (opts.threads === 1 ? runLoad(j) : runInWorker(j))));
  const failures = {};
  let ok = 0;
  let okRecords = 0;
  let okBytes = 0;
  let elapsedMs = 0;
  const all = [];
  for (const p of parts) {
    ok += p.ok;
    okRecords += p.okRecords;
    okBytes += p.okBytes;
    elapsedMs = Math.max(elapsedMs, p.elapsedMs);
    mergeCounts(failures, p.failures);
    all.push(p.latencies);
  }
  const merged = new Float64Array(all.reduce((n, a) => n + a.length, 0));
  let off = 0;
  for (const a of all) {
    merged.set(a, off);
    off += a.length;
  }
  const s = summarize(merged);
  const secs = elapsedMs / 1000;
  return {
    protocol: opts.protocol,
    target: opts.target,
    recordSize: opts.recordSize,
    recordsPerRequest: opts.records,
    concurrency: opts.concurrency,
    keys: opts.keys,
    seconds: secs,
    requestsOk: ok,
    recordsOk: okRecords,
    recordsPerSec: okRecords / secs,
    mbPerSec: okBytes / secs / 1e6,
    latencyMs: { p50: s.p50, p90: s.p90, p99: s.p99, max: s.max },
    failures,
  };
}

export function formatResult(r) {
  const f = Object.entries(r.failures)
    .map(([k, v]) => `${k}: ${v}`)
    .join(", ");
  const ms = (v) => (Number.isNaN(v) ? "n/a" : v.toFixed(1));
  return [
    `${r.protocol} -> ${r.target}: ${r.recordsPerRequest} records/request of ${r.recordSize} B, concurrency ${r.concurrency}, ${r.keys} keys, ${r.seconds.toFixed(1)} s`,
    `  ${r.recordsOk} records ok in ${r.requestsOk} requests: ${Math.round(r.recordsPerSec)} records/s, ${r.mbPerSec.toFixed(2)} MB/s (request bytes)`,
    `  ack latency ms: p50 ${ms(r.latencyMs.p50)}  p90 ${ms(r.latencyMs.p90)}  p99 ${ms(r.latencyMs.p99)}  max ${ms(r.latencyMs.max)}`,
    `  non-success: ${f || "none"}`,
  ].join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  let opts;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err.message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
  } else {
    const r = await generate(opts);
    process.stdout.write(opts.json ? `${JSON.stringify(r)}\n` : `${formatResult(r)}\n`);
  }
}
