/** Command-line options of the pipeline benchmark. */
import { parseArgs } from "node:util";
import { EMBEDDED_SINKS, REAL_SINKS, type SinkType } from "./sinks.js";

export type SetupName = "embedded" | "real";
export type PhaseName = "throughput" | "latency";

export interface Options {
  setups: SetupName[];
  phases: PhaseName[];
  /** Only these sinks (of each setup); default all. */
  sinks: SinkType[] | undefined;
  records: number;
  requestRecords: number;
  recordSize: number;
  keys: number;
  loadWorkers: number;
  partitions: number;
  oneSinkAtATime: boolean;
  batchRecords: number | undefined;
  linger: string | undefined;
  sampleMs: number;
  drainTimeoutS: number;
  probeRate: number;
  probeDurationS: number;
  probeTimeoutS: number;
  pollMs: number;
  deadlineMin: number;
  json: string | undefined;
  keep: boolean;
  help: boolean;
}

export const USAGE = `usage: npm run bench:pipeline -- [options]

Processor throughput into each sink (a preloaded backlog drained by \`sluice process\`),
and export-to-queryable latency per sink, for the embedded and the real sinks.

  --setups LIST          embedded,real (default both): embedded = embedded log and the three
                         embedded sinks; real = Kafka, OpenSearch, ClickHouse and S3 started on loopback
  --phases LIST          throughput,latency (default both)
  --sinks LIST           only these sinks, e.g. opensearch,sqlite_search (default every sink of each setup)
  --records N            records preloaded through the gateway before the processor starts (default 200000)
  --request-records N    records per OTLP/HTTP request while preloading (default 100)
  --record-size N        body text bytes per record (default 200)
  --keys N               distinct service.name values, i.e. log keys (default 16)
  --load-workers N       concurrent preload requests (default 8)
  --partitions N         partitions per topic, embedded log and Kafka alike (default 8)
  --one-sink-at-a-time   drain into each sink alone, one processor per sink in turn (default: every
                         sink of the setup in one processor, draining in parallel, as deployed)
  --batch-records N      exporter batch.max_records for every sink (default: the exporters' default)
  --linger DURATION      exporter batch.linger for every sink, e.g. 200ms (default: the exporters' default)
  --sample-interval MS   how often the drain is sampled: lag, CPU (default 50)
  --drain-timeout S      give up on one drain after this long (default 900)
  --probe-rate N         latency probes per second (default 50, at most 1000)
  --probe-duration S     seconds of probes (default 20, at most 300)
  --probe-timeout S      after the last probe, how long to wait for stragglers (default 60, at most 600)
  --poll-interval MS     how often each sink is asked for the probes not yet seen (default 100)
  --deadline MIN         stop everything after this many minutes (default 60)
  --json FILE            also write every figure as JSON
  --keep                 keep the run folder (configs, logs, data) instead of deleting it; it is
                         also kept when a setup fails, for the logs
  --help                 this text

Everything listens on 127.0.0.1. Needs \`npm run build\`; the real setup fetches the services on first
use like the tests do (see scripts/services/README.md).`;

function int(name: string, raw: string | undefined, min: number, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`--${name} must be an integer in ${min}..${max}, got ${raw}`);
  }
  return n;
}

function list<T extends string>(name: string, raw: string, allowed: readonly T[]): T[] {
  const items = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const i of items) {
    if (!allowed.includes(i as T))
      throw new Error(`--${name}: unknown ${i} (allowed: ${allowed.join(", ")})`);
  }
  if (items.length === 0) throw new Error(`--${name} needs at least one value`);
  return [...new Set(items)] as T[];
}

export function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      setups: { type: "string", default: "embedded,real" },
      phases: { type: "string", default: "throughput,latency" },
      sinks: { type: "string" },
      records: { type: "string", default: "200000" },
      "request-records": { type: "string", default: "100" },
      "record-size": { type: "string", default: "200" },
      keys: { type: "string", default: "16" },
      "load-workers": { type: "string", default: "8" },
      partitions: { type: "string", default: "8" },
      "one-sink-at-a-time": { type: "boolean", default: false },
      "batch-records": { type: "string" },
      linger: { type: "string" },
      "sample-interval": { type: "string", default: "50" },
      "drain-timeout": { type: "string", default: "900" },
      "probe-rate": { type: "string", default: "50" },
      "probe-duration": { type: "string", default: "20" },
      "probe-timeout": { type: "string", default: "60" },
      "poll-interval": { type: "string", default: "100" },
      deadline: { type: "string", default: "60" },
      json: { type: "string" },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const linger = values.linger;
  if (linger !== undefined && !/^\d+(ms|s)?$/.test(linger)) {
    throw new Error(`--linger must be a duration like 200ms or 1s, got ${linger}`);
  }
  return {
    setups: list("setups", values.setups, ["embedded", "real"] as const),
    phases: list("phases", values.phases, ["throughput", "latency"] as const),
    sinks:
      values.sinks === undefined
        ? undefined
        : list("sinks", values.sinks, [...EMBEDDED_SINKS, ...REAL_SINKS]),
    records: int("records", values.records, 1, 100_000_000),
    requestRecords: int("request-records", values["request-records"], 1, 10_000),
    recordSize: int("record-size", values["record-size"], 1, 1_000_000),
    keys: int("keys", values.keys, 1, 100_000),
    loadWorkers: int("load-workers", values["load-workers"], 1, 256),
    partitions: int("partitions", values.partitions, 1, 256),
    oneSinkAtATime: values["one-sink-at-a-time"],
    batchRecords:
      values["batch-records"] === undefined
        ? undefined
        : int("batch-records", values["batch-records"], 1, 1_000_000),
    linger,
    sampleMs: int("sample-interval", values["sample-interval"], 10, 10_000),
    drainTimeoutS: int("drain-timeout", values["drain-timeout"], 1, 6 * 3600),
    probeRate: int("probe-rate", values["probe-rate"], 1, 1000),
    probeDurationS: int("probe-duration", values["probe-duration"], 1, 300),
    probeTimeoutS: int("probe-timeout", values["probe-timeout"], 1, 600),
    pollMs: int("poll-interval", values["poll-interval"], 10, 10_000),
    deadlineMin: int("deadline", values.deadline, 1, 24 * 60),
    json: values.json,
    keep: values.keep,
    help: values.help,
  };
}
