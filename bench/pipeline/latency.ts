/**
 * Export-to-queryable latency: probes sent to the gateway at a steady rate,
 * each a single record with its own id, while every sink of the setup is
 * asked in turn for the probes it does not show yet. A probe's latency in a
 * sink is the time from just before its export request was sent to the
 * start of the first lookup that found it, so the figures carry up to one
 * poll interval (plus one lookup) of resolution.
 */
import { probeId, probeIndex, probeRequest } from "./records.js";
import { hourFolder, LOOKUP_CHUNK, type SinkType, type Visibility } from "./sinks.js";

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MAX_IN_FLIGHT = 256;
const REQUEST_TIMEOUT_MS = 15_000;

export interface LatencySummary {
  sink: SinkType;
  sent: number;
  acked: number;
  seen: number;
  /** Acknowledged probes never seen before the timeout. */
  missing: number;
  p50Ms?: number;
  p99Ms?: number;
  maxMs?: number;
  lookups: number;
  lookupErrors: number;
  lastError?: string;
  /** Mean time between two polls of this sink: the interval, or longer when a poll took longer. */
  meanPollCycleMs?: number;
}

export interface LatencyResult {
  rate: number;
  durationS: number;
  pollMs: number;
  /** Probes actually sent per second (the sender can fall behind on a busy machine). */
  achievedRate: number;
  sinks: LatencySummary[];
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function send(endpoint: string, body: Uint8Array): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/v1/logs`, {
      method: "POST",
      body,
      headers: { "content-type": "application/x-protobuf" },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    await res.arrayBuffer().catch(() => undefined);
    return res.status === 200;
  } catch {
    return false;
  }
}

interface Tracker {
  sink: SinkType;
  vis: Visibility;
  seen: Map<number, number>;
  polls: number;
  pollingMs: number;
  lookups: number;
  lookupErrors: number;
  lastError?: string;
}

/**
 * Warm-up: one probe-shaped record (id `<run>-w0`, not a measured probe) must be visible in
 * every sink before the measured probes start, so that every consumer is up and caught up.
 */
export async function warmUp(o: {
  run: string;
  endpoint: string;
  sinks: { sink: SinkType; vis: Visibility }[];
  hours: string[];
  pollMs: number;
  timeoutMs: number;
  log: (line: string) => void;
}): Promise<void> {
  const id = `${o.run}-w0`;
  if (!(await send(o.endpoint, probeRequest(id, BigInt(Date.now()) * 1_000_000n)))) {
    throw new Error("warm-up probe was refused");
  }
  const waiting = new Set(o.sinks.map((s) => s.sink));
  const deadline = Date.now() + o.timeoutMs;
  while (waiting.size > 0 && Date.now() < deadline) {
    for (const s of o.sinks) {
      if (!waiting.has(s.sink)) continue;
      const found = await s.vis.poll([id], o.hours).catch(() => [] as string[]);
      if (found.includes(id)) waiting.delete(s.sink);
    }
    if (waiting.size > 0) await sleep(o.pollMs);
  }
  if (waiting.size > 0)
    throw new Error(`warm-up probe not visible within ${o.timeoutMs / 1000} s in ${[...waiting]}`);
}

/**
 * The archive hour folders records sent from now on for `seconds` can fall in. Listed (primed)
 * before anything is sent, so objects already there are never read as new.
 */
export function probeHours(seconds: number): string[] {
  const hours = new Set<string>();
  const start = Date.now();
  for (let t = start; t < start + seconds * 1000 + 60_000; t += 60_000) hours.add(hourFolder(t));
  return [...hours];
}

export async function runProbes(o: {
  run: string;
  endpoint: string;
  sinks: { sink: SinkType; vis: Visibility }[];
  /** From probeHours(), with every sink primed on them. */
  hours: string[];
  rate: number;
  durationS: number;
  timeoutS: number;
  pollMs: number;
  log: (line: string) => void;
}): Promise<LatencyResult> {
  const count = o.rate * o.durationS;
  const sentAt = new Float64Array(count);
  const acked = new Uint8Array(count);
  let sent = 0;
  let inFlight = 0;
  let sendingDone = false;
  const trackers: Tracker[] = o.sinks.map((s) => ({
    ...s,
    seen: new Map(),
    polls: 0,
    pollingMs: 0,
    lookups: 0,
    lookupErrors: 0,
  }));

  const start = now();

  const sender = (async () => {
    const pending = new Set<Promise<void>>();
    for (let i = 0; i < count; i++) {
      const due = start + (i * 1000) / o.rate;
      const wait = due - now();
      if (wait > 0) await sleep(wait);
      for (let spin = 0; inFlight >= MAX_IN_FLIGHT && spin < 10_000; spin++) await sleep(1);
      const t = now();
      const body = probeRequest(probeId(o.run, i), BigInt(Math.round(t * 1000)) * 1000n);
      sentAt[i] = t;
      sent = i + 1;
      inFlight++;
      const p = send(o.endpoint, body).then((ok) => {
        inFlight--;
        if (ok) acked[i] = 1;
      });
      pending.add(p);
      void p.then(() => pending.delete(p));
    }
    await Promise.all(pending);
    sendingDone = true;
  })();

  const allSeen = (tr: Tracker) => sendingDone && tr.seen.size >= acked.reduce((a, b) => a + b, 0);
  const pollers = trackers.map(async (tr) => {
    let deadline = Number.POSITIVE_INFINITY;
    for (let iter = 0; iter < 10_000_000; iter++) {
      if (sendingDone && deadline === Number.POSITIVE_INFINITY) deadline = now() + o.timeoutS * 1000;
      if (now() > deadline || allSeen(tr)) return;
      const t = now();
      const pending: string[] = [];
      for (let i = 0; i < sent; i++) if (!tr.seen.has(i)) pending.push(probeId(o.run, i));
      try {
        const chunks: string[][] = pending.length === 0 ? [[]] : [];
        for (let c = 0; c < pending.length; c += LOOKUP_CHUNK)
          chunks.push(pending.slice(c, c + LOOKUP_CHUNK));
        for (const chunk of chunks) {
          tr.lookups++;
          const found = await tr.vis.poll(chunk, o.hours);
          const answered = now();
          for (const id of found) {
            const i = probeIndex(o.run, id);
            if (i === undefined || i >= count || tr.seen.has(i)) continue;
            const sentTime = sentAt[i] ?? 0;
            // An archive object can show a probe sent after the listing began; count from its answer.
            tr.seen.set(i, (t >= sentTime ? t : answered) - sentTime);
          }
        }
      } catch (err) {
        tr.lookupErrors++;
        tr.lastError = (err as Error).message;
      }
      const spent = now() - t;
      await sleep(Math.max(0, o.pollMs - spent));
      tr.polls++;
      tr.pollingMs += now() - t;
    }
  });

  const progress = setInterval(() => {
    o.log(`  probes: ${sent} sent; seen ${trackers.map((tr) => `${tr.sink}=${tr.seen.size}`).join(" ")}`);
  }, 10_000);
  try {
    await sender;
    await Promise.all(pollers);
  } finally {
    clearInterval(progress);
  }
  const ackedCount = acked.reduce((a, b) => a + b, 0);
  const elapsedS = (sentAt[count - 1] ?? start) - start;
  return {
    rate: o.rate,
    durationS: o.durationS,
    pollMs: o.pollMs,
    achievedRate: count > 1 ? ((count - 1) / elapsedS) * 1000 : o.rate,
    sinks: trackers.map((tr) => {
      const lat = [...tr.seen].filter(([i]) => acked[i]).map(([, ms]) => ms);
      lat.sort((a, b) => a - b);
      return {
        sink: tr.sink,
        sent: count,
        acked: ackedCount,
        seen: lat.length,
        missing: ackedCount - lat.length,
        p50Ms: percentile(lat, 50),
        p99Ms: percentile(lat, 99),
        maxMs: lat[lat.length - 1],
        lookups: tr.lookups,
        lookupErrors: tr.lookupErrors,
        lastError: tr.lastError,
        meanPollCycleMs: tr.polls > 0 ? tr.pollingMs / tr.polls : undefined,
      };
    }),
  };
}
