/**
 * Watches one `sluice process` drain a preloaded backlog: when the process
 * came up, when each consumer group started consuming and when its lag
 * reached 0, with the process's CPU time at those moments.
 *
 * A group's clock starts when it can consume: on Kafka, when the group is
 * Stable with the processor as its member (joined; the exporter has started
 * by then, as it starts before its consumer); on the embedded log, which has
 * no membership, when the processor's admin endpoint first accepts a TCP
 * connection (the process has booted and opened the log, and starts its
 * consumers right after; the kernel accepts the connection even while the
 * process's event loop is busy). The clock stops at the first of two
 * consecutive samples with lag 0. Process boot and the group join are thus
 * left out (reported as start-up); the exporter's own start is counted on
 * the embedded log only. Lag and membership are read from this process, as
 * `sluice lag` reads them; the processor's /metrics is read only until its
 * consumers have started (recorded apart) and once at the end. The
 * resolution is one sample interval at each end.
 */
import { connect } from "node:net";
import type { LagReader } from "./lag.js";
import { cpuSeconds, peakRssMiB } from "./procstat.js";

export interface GroupSpec {
  /** Exporter name (the sink type here). */
  exporter: string;
  group: string;
}

export interface GroupDrain {
  exporter: string;
  group: string;
  /** Seconds from spawning the processor to the start of the group's clock. */
  startupS?: number;
  /** Seconds from the start of the group's clock to lag 0. */
  windowS?: number;
  /** Records the exporter wrote in all, replays included (sluice_exporter_records_total{outcome="written"}). */
  written: number;
  /** Process CPU seconds in the window (the group's own only when it ran alone). */
  cpuS?: number;
  deadLettered: number;
  retries: number;
  lagZero: boolean;
  /** The drain took fewer than ten samples: the figure is rough; preload more records. */
  short: boolean;
}

export interface DrainResult {
  groups: GroupDrain[];
  /** Seconds from spawning the processor to its admin endpoint's first accepted connection. */
  startupS?: number;
  /**
   * Seconds from there until /metrics first showed sluice_consumer_lag (set once every consumer of the
   * process has started); later than the start itself when the process answered late.
   */
  consumersStartedS?: number;
  /** From the first group's clock start to the last group's lag 0. */
  allWindowS?: number;
  /** Process CPU seconds in that window. */
  allCpuS?: number;
  peakRssMiB?: number;
  processCpuS?: number;
}

interface Sample {
  t: number;
  cpu: number;
}

interface State extends GroupSpec {
  begin?: Sample;
  zeroCandidate?: Sample;
  zero?: Sample;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

interface Counters {
  exporters: Map<string, { written: number; deadLettered: number; retries: number }>;
  /** Whether sluice_consumer_lag has any series: set once every consumer of the process has started. */
  consumersStarted: boolean;
}

/** Exporter counters from the processor's Prometheus text. */
export async function scrape(admin: string): Promise<Counters> {
  const res = await fetch(`${admin}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${admin}/metrics answered ${res.status}`);
  const exporters: Counters["exporters"] = new Map();
  const entry = (e: string) => {
    let v = exporters.get(e);
    if (!v) {
      v = { written: 0, deadLettered: 0, retries: 0 };
      exporters.set(e, v);
    }
    return v;
  };
  let consumersStarted = false;
  for (const line of (await res.text()).split("\n")) {
    if (line.startsWith("sluice_consumer_lag{")) consumersStarted = true;
    const m = line.match(/^(sluice_exporter_records_total|sluice_exporter_retries_total)\{([^}]*)\} (\S+)$/);
    if (!m) continue;
    const labels = new Map([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const exporter = labels.get("exporter");
    if (exporter === undefined) continue;
    const value = Number(m[3]);
    if (m[1] === "sluice_exporter_retries_total") entry(exporter).retries += value;
    else if (labels.get("outcome") === "written") entry(exporter).written += value;
    else entry(exporter).deadLettered += value;
  }
  return { exporters, consumersStarted };
}

export async function watchDrain(o: {
  pid: number;
  /** Why the processor is gone, or undefined while it runs as started. */
  gone: () => string | undefined;
  spawnedAt: number;
  admin: string;
  groups: GroupSpec[];
  lag: LagReader;
  sampleMs: number;
  timeoutMs: number;
  log: (line: string) => void;
}): Promise<DrainResult> {
  const pid = o.pid;
  const states: State[] = o.groups.map((g) => ({ ...g }));
  const deadline = Date.now() + o.timeoutMs;
  const sampleNow = (): Sample => {
    const cpu = cpuSeconds(pid);
    if (cpu === undefined) throw new Error(`cannot read /proc/${pid}/stat`);
    return { t: now(), cpu };
  };
  let up: Sample | undefined;
  let started: Sample | undefined;
  let done = false;
  // Apart from the clock: /metrics may answer late while the processor's event loop is busy.
  const watchStarted = (async () => {
    while (!done && !started && Date.now() < deadline) {
      const began = now();
      const c = await scrape(o.admin).catch(() => undefined);
      if (c?.consumersStarted) started = { t: now(), cpu: cpuSeconds(pid) ?? 0 };
      await sleep(Math.max(0, o.sampleMs - (now() - began)));
    }
  })();
  const { port, hostname } = new URL(o.admin);
  let lastReport = Date.now();
  let lastLag = new Map<string, bigint>();
  try {
    for (let i = 0; i < 100_000_000; i++) {
      const gone = o.gone();
      if (gone) throw new Error(`processor stopped during the drain: ${gone}`);
      if (Date.now() > deadline) {
        o.log(`drain timeout after ${o.timeoutMs / 1000} s; lag ${fmtLag(lastLag)}`);
        break;
      }
      const began = now();
      if (!up) {
        if (await accepts(hostname, Number(port))) up = sampleNow();
      } else {
        const waiting = states.filter((s) => !s.begin);
        if (waiting.length > 0) {
          if (o.lag.joined) {
            const joined = await o.lag.joined(waiting.map((s) => s.group)).catch(() => new Set<string>());
            const at = sampleNow();
            for (const s of waiting) if (joined.has(s.group)) s.begin = at;
          } else {
            for (const s of waiting) s.begin = up;
          }
        }
        const open = states.filter((s) => !s.zero && s.begin);
        // A failed read (broker busy, coordinator moving) only costs this sample.
        lastLag = await o.lag.lag(open.map((s) => s.group)).catch(() => new Map<string, bigint>());
        const at = sampleNow();
        for (const s of open) {
          // Before its first commit a group's lag is the whole backlog, so 0 means drained.
          if (lastLag.get(s.group) === 0n) {
            if (s.zeroCandidate) s.zero = s.zeroCandidate;
            else s.zeroCandidate = at;
          } else {
            s.zeroCandidate = undefined;
          }
        }
        if (states.every((s) => s.zero)) break;
      }
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        o.log(`  draining: lag ${fmtLag(lastLag)}`);
      }
      await sleep(Math.max(0, o.sampleMs - (now() - began)));
    }
  } finally {
    done = true;
  }
  await watchStarted;
  const counters = (await scrape(o.admin)).exporters;
  const groups: GroupDrain[] = states.map((s) => {
    const c = counters.get(s.exporter) ?? { written: 0, deadLettered: 0, retries: 0 };
    const g: GroupDrain = {
      exporter: s.exporter,
      group: s.group,
      written: c.written,
      deadLettered: c.deadLettered,
      retries: c.retries,
      lagZero: s.zero !== undefined,
      short: false,
    };
    if (s.begin) g.startupS = (s.begin.t - o.spawnedAt) / 1000;
    if (s.begin && s.zero) {
      g.windowS = (s.zero.t - s.begin.t) / 1000;
      g.short = s.zero.t - s.begin.t < 10 * o.sampleMs;
      g.cpuS = s.zero.cpu - s.begin.cpu;
    }
    return g;
  });
  const result: DrainResult = { groups, peakRssMiB: peakRssMiB(pid), processCpuS: cpuSeconds(pid) };
  if (up) result.startupS = (up.t - o.spawnedAt) / 1000;
  if (up && started) result.consumersStartedS = (started.t - up.t) / 1000;
  const begins = states.flatMap((s) => (s.begin ? [s.begin] : []));
  const zeros = states.flatMap((s) => (s.zero ? [s.zero] : []));
  if (begins.length === states.length && zeros.length === states.length) {
    const first = begins.reduce((a, b) => (a.t <= b.t ? a : b));
    const last = zeros.reduce((a, b) => (a.t >= b.t ? a : b));
    result.allWindowS = (last.t - first.t) / 1000;
    result.allCpuS = last.cpu - first.cpu;
  }
  return result;
}

/** Whether a TCP connection to host:port is accepted within a second. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.once("connect", () => finish(true));
    socket.once("error", () => finish(false));
  });
}

function fmtLag(lag: Map<string, bigint>): string {
  return [...lag].map(([g, l]) => `${g.split(".").pop()}=${l}`).join(" ");
}
