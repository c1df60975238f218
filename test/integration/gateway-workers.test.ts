/**
 * `sluice gateway` with gateway.workers: 2 against the real Kafka: both
 * worker processes take connections, everything acknowledged is in Kafka,
 * the primary's /metrics adds the workers up, a worker killed with -9 is
 * replaced while ingestion goes on, SIGTERM drains, and the workers leave
 * when the primary is killed with -9. With workers: 1 there is no second
 * process at all.
 *
 * Which worker serves a connection is read from the operating system, not
 * from the gateway: the server end of each client connection is found in
 * /proc/net/tcp and matched to a worker by its socket file descriptors.
 */
import { createSocket } from "node:dgram";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { Agent, request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { freePort } from "../support/ports.js";
import { type Child, requireBuild, runSluice, stopChild, waitReady } from "../support/processes.js";
import { rawGrpcClient } from "../support/raw-grpc.js";
import { readKafka } from "../support/read-log.js";
import { seqCounts, seqRequest } from "../support/seq-requests.js";

requireBuild();

const RECORDS_PER_REQUEST = 5;
const bootstrap = inject("kafkaBootstrap");

const children: Child[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) await stopChild(c);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** State letter and parent pid of a process, from /proc/<pid>/stat; undefined once it is gone. */
function procStat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0] ?? "", ppid: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

/** Running, as opposed to gone or a zombie waiting to be reaped (its code no longer runs). */
function alive(pid: number): boolean {
  const s = procStat(pid);
  return s !== undefined && s.state !== "Z" && s.state !== "X";
}

function childPids(parent: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (procStat(pid)?.ppid === parent && alive(pid)) out.push(pid);
  }
  return out.sort((a, b) => a - b);
}

/** The process among `pids` that holds the server end of the loopback connection clientPort → serverPort. */
function connectionOwner(serverPort: number, clientPort: number, pids: number[]): number | undefined {
  const inodes = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const local = Number.parseInt(f[1]?.split(":")[1] ?? "", 16);
      const remote = Number.parseInt(f[2]?.split(":")[1] ?? "", 16);
      // 01 is ESTABLISHED.
      if (local === serverPort && remote === clientPort && f[3] === "01") inodes.add(f[9] ?? "");
    }
  }
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link = "";
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1] ?? "")) return pid;
    }
  }
  return undefined;
}

async function until<T>(what: string, check: () => T | undefined | false, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

/** One keep-alive TCP connection to the OTLP/HTTP receiver; every request on it goes to the same worker. */
class HttpConnection {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  localPort: number | undefined;

  constructor(private readonly port: number) {}

  post(body: Uint8Array): Promise<number> {
    return new Promise((resolve) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: this.port,
          path: "/v1/logs",
          method: "POST",
          agent: this.agent,
          headers: { "content-type": "application/x-protobuf", "content-length": body.length },
        },
        (res) => {
          this.localPort = res.socket.localPort;
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", () => resolve(0));
      req.end(Buffer.from(body));
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

interface Ports {
  grpc: number;
  http: number;
  forward: number;
  admin: number;
}

async function freePorts(): Promise<Ports> {
  return {
    grpc: await freePort(),
    http: await freePort(),
    forward: await freePort(),
    admin: await freePort(),
  };
}

function spawnGateway(topic: string, workers: number, ports: Ports): { child: Child; admin: string } {
  const dir = mkdtempSync(join(tmpdir(), "sluice-workers-"));
  dirs.push(dir);
  const config = join(dir, "sluice.yaml");
  writeFileSync(
    config,
    [
      "receivers:",
      "  otlp:",
      "    protocols:",
      `      grpc: { endpoint: "127.0.0.1:${ports.grpc}" }`,
      `      http: { endpoint: "127.0.0.1:${ports.http}" }`,
      `  forward: { endpoint: "127.0.0.1:${ports.forward}", udp_heartbeat: true }`,
      "pipelines: { logs: { receivers: [otlp, forward] } }",
      "log:",
      "  backend: kafka",
      `  kafka: { brokers: ["${bootstrap}"], partitions: 2 }`,
      `  topics: { logs: ${topic}, events: ${topic}-events, dead_letter: ${topic}-dlq }`,
      `gateway: { workers: ${workers} }`,
      `admin: { endpoint: "127.0.0.1:${ports.admin}" }`,
      "telemetry: { log_level: info }",
    ].join("\n"),
  );
  const child = runSluice(["gateway", "--config", config, "--data-dir", join(dir, "data")]);
  children.push(child);
  return { child, admin: `http://127.0.0.1:${ports.admin}` };
}

async function startCluster(
  topic: string,
  workers: number,
): Promise<{ child: Child; ports: Ports; admin: string }> {
  const ports = await freePorts();
  const { child, admin } = spawnGateway(topic, workers, ports);
  await waitReady(admin, child, 90_000);
  return { child, ports, admin };
}

async function metric(admin: string, line: RegExp): Promise<number> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const m = line.exec(text);
  if (!m) throw new Error(`no ${line} in /metrics:\n${text}`);
  return Number(m[1]);
}

const acceptedRecords = /^sluice_receiver_accepted_log_records_total\{receiver="otlp"\} (\d+)$/m;

/** Records of the acknowledged requests (by first seq) that the topic does not hold. */
async function notInKafka(topic: string, ackedFirstSeqs: number[]): Promise<number[]> {
  const counts = seqCounts(await readKafka(bootstrap, topic));
  const missing: number[] = [];
  for (const first of ackedFirstSeqs) {
    for (let s = first; s < first + RECORDS_PER_REQUEST; s++) if (!counts.get(s)) missing.push(s);
  }
  return missing;
}

/** How many of `count` UDP heartbeats to the port get an answer. */
async function heartbeats(port: number, count: number): Promise<number> {
  const udp = createSocket("udp4");
  let answers = 0;
  udp.on("message", () => answers++);
  await new Promise<void>((r) => udp.bind(0, "127.0.0.1", () => r()));
  for (let i = 0; i < count; i++) udp.send(Buffer.from([0xc0]), port, "127.0.0.1");
  const deadline = Date.now() + 3000;
  while (answers < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  udp.close();
  return answers;
}

describe.skipIf(!existsSync("/proc/net/tcp"))("gateway workers", () => {
  it("spreads connections over both workers, replaces a killed one, and dies with the primary", async () => {
    const topic = `workers-${Date.now()}`;
    const { child, ports, admin } = await startCluster(topic, 2);
    const primary = child.proc.pid as number;
    const first = await until(
      "two workers",
      () => childPids(primary).length === 2 && childPids(primary),
      10_000,
    );

    let nextSeq = 0;
    const ackedSeqs: number[] = [];
    const recordsBy = new Map<number, number>();
    let requestsAcked = 0;

    /** Opens connections until every one of `want` owns at least one, then sends `rounds` requests on each. */
    const ingest = async (want: number[], rounds: number): Promise<Set<number>> => {
      const conns: HttpConnection[] = [];
      const owners = new Map<HttpConnection, number>();
      try {
        for (let i = 0; i < 16 && !want.every((p) => [...owners.values()].includes(p)); i++) {
          const conn = new HttpConnection(ports.http);
          conns.push(conn);
          const seq = nextSeq;
          nextSeq += RECORDS_PER_REQUEST;
          expect(await conn.post(seqRequest(`svc-${i}`, seq, RECORDS_PER_REQUEST))).toBe(200);
          const owner = connectionOwner(ports.http, conn.localPort ?? -1, want);
          expect(owner, `owner of connection from port ${conn.localPort}`).toBeDefined();
          owners.set(conn, owner as number);
          ackedSeqs.push(seq);
          requestsAcked++;
          recordsBy.set(owner as number, (recordsBy.get(owner as number) ?? 0) + RECORDS_PER_REQUEST);
        }
        await Promise.all(
          conns.map(async (conn, i) => {
            for (let r = 0; r < rounds; r++) {
              const seq = nextSeq;
              nextSeq += RECORDS_PER_REQUEST;
              expect(await conn.post(seqRequest(`svc-${i}`, seq, RECORDS_PER_REQUEST))).toBe(200);
              const owner = owners.get(conn) as number;
              ackedSeqs.push(seq);
              requestsAcked++;
              recordsBy.set(owner, (recordsBy.get(owner) ?? 0) + RECORDS_PER_REQUEST);
            }
          }),
        );
      } finally {
        for (const c of conns) c.close();
      }
      return new Set(owners.values());
    };

    // Both workers serve, and /metrics on the primary adds up what both acknowledged.
    expect([...(await ingest(first, 4))].sort()).toEqual(first);
    const acked = ackedSeqs.length * RECORDS_PER_REQUEST;
    expect(await metric(admin, acceptedRecords)).toBe(acked);
    expect(await metric(admin, /^sluice_log_append_duration_seconds_count\{backend="kafka"\} (\d+)$/m)).toBe(
      requestsAcked,
    );
    expect(await metric(admin, /^sluice_log_healthy\{backend="kafka"\} (\d+)$/m)).toBe(1);
    // The UDP heartbeat socket is shared by the workers: every heartbeat is answered, and no bind failed.
    expect(await heartbeats(ports.forward, 10)).toBe(10);
    expect(child.output()).not.toMatch(/UDP heartbeat port unavailable/);

    // kill -9 one worker: the primary reports not ready, forks a replacement, and is ready again.
    const [victim, survivor] = first as [number, number];
    process.kill(victim, "SIGKILL");
    await until("victim gone", () => !alive(victim), 10_000);
    let sawNotReady = false;
    for (let i = 0; i < 50 && !sawNotReady; i++) {
      const res = await fetch(`${admin}/readyz`);
      if (res.status === 503) {
        expect(((await res.json()) as { failing: string[] }).failing).toContain("receivers");
        sawNotReady = true;
      } else await new Promise((r) => setTimeout(r, 50));
    }
    expect(sawNotReady).toBe(true);
    await waitReady(admin, child, 60_000);
    const second = await until(
      "a replacement worker",
      () => {
        const pids = childPids(primary);
        return pids.length === 2 && pids.includes(survivor) && !pids.includes(victim) && pids;
      },
      10_000,
    );
    const replacement = second.find((p) => p !== survivor) as number;
    expect(child.output()).toMatch(/gateway worker exited; replacing it/);

    // Ingestion goes on over both, and the metrics now add up the survivor and the replacement.
    expect([...(await ingest(second, 2))].sort()).toEqual(second);
    recordsBy.delete(victim);
    expect(await metric(admin, acceptedRecords)).toBe(
      (recordsBy.get(survivor) ?? 0) + (recordsBy.get(replacement) ?? 0),
    );
    expect(await heartbeats(ports.forward, 5)).toBe(5);

    // gRPC goes through the shared port too.
    const grpc = rawGrpcClient(`127.0.0.1:${ports.grpc}`);
    try {
      for (let i = 0; i < 3; i++) {
        const seq = nextSeq;
        nextSeq += RECORDS_PER_REQUEST;
        expect((await grpc.export(seqRequest("svc-grpc", seq, RECORDS_PER_REQUEST))).code).toBe(0);
        ackedSeqs.push(seq);
      }
    } finally {
      grpc.close();
    }

    expect(await notInKafka(topic, ackedSeqs)).toEqual([]);

    // kill -9 the primary: the workers exit on their own when its IPC channel closes.
    process.kill(primary, "SIGKILL");
    await child.exited;
    await until("workers gone after the primary", () => second.every((p) => !alive(p)), 10_000);
  });

  it("drains on SIGTERM: answered requests are in Kafka, workers and primary exit cleanly", async () => {
    const topic = `workers-term-${Date.now()}`;
    const { child, ports } = await startCluster(topic, 2);
    const primary = child.proc.pid as number;
    const workers = await until(
      "two workers",
      () => childPids(primary).length === 2 && childPids(primary),
      10_000,
    );

    const ackedSeqs: number[] = [];
    let nextSeq = 0;
    let stop = false;
    const senders = Array.from({ length: 4 }, async (_, i) => {
      const conn = new HttpConnection(ports.http);
      try {
        for (let r = 0; r < 2000 && !stop; r++) {
          const seq = nextSeq;
          nextSeq += RECORDS_PER_REQUEST;
          const status = await conn.post(seqRequest(`svc-${i}`, seq, RECORDS_PER_REQUEST));
          if (status === 200) ackedSeqs.push(seq);
          else break;
        }
      } finally {
        conn.close();
      }
    });
    await until("some requests acknowledged", () => ackedSeqs.length >= 20, 30_000);
    child.proc.kill("SIGTERM");
    const exit = await child.exited;
    stop = true;
    await Promise.all(senders);
    expect(exit.code, child.output()).toBe(0);
    expect(workers.every((p) => !alive(p))).toBe(true);
    expect(child.output()).toMatch(/gateway worker draining/);
    expect(child.output()).not.toMatch(/replacing it/);

    expect(await notInKafka(topic, ackedSeqs)).toEqual([]);
  });

  it("fails the start once, with the worker's own error, when a port is taken", async () => {
    const ports = await freePorts();
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(ports.http, "127.0.0.1", () => r()));
    try {
      const { child } = spawnGateway(`workers-busy-${Date.now()}`, 2, ports);
      const exit = await child.exited;
      expect(exit.code, child.output()).toBe(2);
      expect(child.output()).toMatch(/sluice: gateway worker 1 failed to start: .*EADDRINUSE/);
      // The second worker is never forked once the first one could not listen.
      expect(child.output()).not.toMatch(/"worker":2/);
    } finally {
      taken.close();
    }
  });

  it("with workers: 1 runs the gateway in the one process, as without the option", async () => {
    const { child, ports, admin } = await startCluster(`workers-one-${Date.now()}`, 1);
    expect(childPids(child.proc.pid as number)).toEqual([]);
    const conn = new HttpConnection(ports.http);
    try {
      expect(await conn.post(seqRequest("svc", 0, RECORDS_PER_REQUEST))).toBe(200);
    } finally {
      conn.close();
    }
    expect(await metric(admin, acceptedRecords)).toBe(RECORDS_PER_REQUEST);
    expect(child.output()).not.toMatch(/gateway worker/);
  });
});
