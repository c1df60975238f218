/**
 * Memory of a process tree from /proc (Linux): the tree of a root pid (a
 * multi-process server's primary and its workers), resident set sizes, and a
 * sampler that runs in a worker thread so its cadence holds while the main
 * thread is busy generating load.
 */
import { readdirSync, readFileSync } from "node:fs";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

/** [pid, ppid] of every process visible in /proc. */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // The command name may hold spaces and parentheses; fields resume after the last ")".
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(Number(name), Number(fields[1]));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return out;
}

/** The root and all its descendants that are alive now. */
export function processTree(root: number): number[] {
  const ppid = parents();
  if (!ppid.has(root)) return [];
  const children = new Map<number, number[]>();
  for (const [pid, parent] of ppid) {
    const list = children.get(parent);
    if (list) list.push(pid);
    else children.set(parent, [pid]);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0 && out.length < 10_000) {
    const pid = queue.shift() as number;
    out.push(pid);
    for (const c of children.get(pid) ?? []) queue.push(c);
  }
  return out;
}

/** A field of /proc/<pid>/status in KiB (VmRSS: resident now; VmHWM: the peak resident set). */
export function statusKiB(pid: number, field: "VmRSS" | "VmHWM"): number | undefined {
  try {
    const m = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

const CLK_TCK = 100;

/** utime + stime of the processes, in seconds (threads included; children that exited are not). */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // Gone.
    }
  }
  return ticks / CLK_TCK;
}

/** Jiffies of the whole machine from /proc/stat: busy (everything but idle and iowait) and total. */
export function machineCpu(): { busy: number; total: number; cpus: number } {
  try {
    const text = readFileSync("/proc/stat", "utf8");
    const first = (text.split("\n")[0] ?? "").trim().split(/\s+/).slice(1, 9).map(Number);
    const total = first.reduce((a, b) => a + b, 0);
    const idle = (first[3] ?? 0) + (first[4] ?? 0);
    const cpus = text.split("\n").filter((l) => /^cpu\d+ /.test(l)).length;
    return { busy: total - idle, total, cpus };
  } catch {
    return { busy: 0, total: 0, cpus: 0 };
  }
}

export interface RssReport {
  samples: number;
  intervalMs: number;
  /** Largest sum of the tree's RSS in one sample, and when (ms since the sampler started). */
  peakTreeKiB: number;
  peakTreeAtMs: number;
  /** Largest RSS each process reached in any sample. */
  peakByPid: Record<number, number>;
  /** Every pid seen in the tree; the ones that left it while the root was still alive. */
  pids: number[];
  vanished: number[];
  /** The root left the tree (it exited). */
  rootGone: boolean;
  /** Sum of the tree's RSS per sample, for a timeline. */
  timeline: { atMs: number; treeKiB: number; processes: number }[];
  /** Per phase: the largest tree sum while that phase was marked. */
  peakByPhase: Record<string, number>;
}

interface SamplerData {
  rssSampler: { root: number; intervalMs: number; maxSamples: number };
}

/** Samples the RSS of a process tree every intervalMs from a worker thread until stopped. */
export class RssSampler {
  private readonly worker: Worker;
  private readonly result: Promise<RssReport>;

  constructor(root: number, intervalMs = 250, maxSamples = 40_000) {
    const data: SamplerData = { rssSampler: { root, intervalMs, maxSamples } };
    this.worker = new Worker(new URL(import.meta.url), { workerData: data });
    this.result = new Promise((resolve, reject) => {
      this.worker.once("message", (m: RssReport) => resolve(m));
      this.worker.once("error", reject);
      this.worker.once("exit", (code) =>
        reject(new Error(`RSS sampler exited (code ${code}) without a report`)),
      );
    });
  }

  /** Tags following samples with a phase name, so peaks can be told apart per phase. */
  phase(name: string): void {
    this.worker.postMessage({ phase: name });
  }

  async stop(): Promise<RssReport> {
    this.worker.postMessage({ stop: true });
    const report = await this.result;
    await this.worker.terminate();
    return report;
  }
}

function runSampler(opts: SamplerData["rssSampler"]): void {
  const started = Date.now();
  const report: RssReport = {
    samples: 0,
    intervalMs: opts.intervalMs,
    peakTreeKiB: 0,
    peakTreeAtMs: 0,
    peakByPid: {},
    pids: [],
    vanished: [],
    rootGone: false,
    timeline: [],
    peakByPhase: {},
  };
  let phase = "start";
  let previous = new Set<number>();
  const tick = () => {
    if (report.samples >= opts.maxSamples) return;
    const tree = processTree(opts.root);
    const at = Date.now() - started;
    let sum = 0;
    for (const pid of tree) {
      const kib = statusKiB(pid, "VmRSS");
      if (kib === undefined) continue;
      sum += kib;
      report.peakByPid[pid] = Math.max(report.peakByPid[pid] ?? 0, kib);
      if (!report.pids.includes(pid)) report.pids.push(pid);
    }
    const now = new Set(tree);
    if (tree.length === 0) report.rootGone = true;
    else
      for (const pid of previous)
        if (!now.has(pid) && !report.vanished.includes(pid)) report.vanished.push(pid);
    previous = now;
    report.samples++;
    report.timeline.push({ atMs: at, treeKiB: sum, processes: tree.length });
    if (sum > report.peakTreeKiB) {
      report.peakTreeKiB = sum;
      report.peakTreeAtMs = at;
    }
    report.peakByPhase[phase] = Math.max(report.peakByPhase[phase] ?? 0, sum);
  };
  tick();
  const timer = setInterval(tick, opts.intervalMs);
  parentPort?.on("message", (m: { phase?: string; stop?: boolean }) => {
    if (m.phase) phase = m.phase;
    if (m.stop) {
      clearInterval(timer);
      tick();
      parentPort?.postMessage(report);
    }
  });
}

if (!isMainThread && (workerData as Partial<SamplerData> | undefined)?.rssSampler) {
  runSampler((workerData as SamplerData).rssSampler);
}
