import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, type WriteStream } from "node:fs";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Kafka, logLevel } from "kafkajs";

// Kafka 4 removed protocol versions that kafkajs still sends, so stay on the 3.9 line.
// The later entry is only a fallback in case the preferred release cannot be resolved.
const KAFKA_VERSIONS = ["3.9.1", "3.9.0"] as const;
const SCALA_BINARY = "2.13";
// Versions matching what the 3.9 binary distribution ships, so broker logs go through log4j 1.x.
const SLF4J_VERSION = "1.7.36";
const RELOAD4J_VERSION = "1.2.25";
const DEPENDENCY_PLUGIN_VERSION = "3.8.1";

const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 20_000;
const LOCK_STALE_MS = 15 * 60_000;
const TAIL_LINES = 200;
const COMPLETE_MARKER = ".complete";

export interface KafkaServerOptions {
  dataDir: string;
  port?: number;
  controllerPort?: number;
  /** Loopback address to bind; default 127.0.0.1. */
  host?: string;
  /** Broker default for num.partitions; default 4. */
  partitions?: number;
  log?: (line: string) => void;
}

function findProjectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

function cacheDirFor(version: string): string {
  return join(findProjectRoot(), ".cache", "kafka", version);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function pidAlive(pid: number): boolean {
  try {
    // Signal 0 only checks existence; nothing is delivered.
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Keeps the last N lines of a stream so failures can show what the JVM said. */
class LineTail {
  private readonly lines: string[] = [];
  private partial = "";
  constructor(private readonly max: number) {}

  push(chunk: string, onLine?: (line: string) => void): void {
    const parts = (this.partial + chunk).split(/\r?\n/);
    this.partial = parts.pop() ?? "";
    for (const line of parts) {
      this.lines.push(line);
      if (this.lines.length > this.max) this.lines.shift();
      onLine?.(line);
    }
  }

  text(): string {
    const all = this.partial ? [...this.lines, this.partial] : this.lines;
    return all.join("\n");
  }
}

function runCommand(
  cmd: string,
  args: string[],
  opts: { cwd?: string; onLine?: (line: string) => void } = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const tail = new LineTail(TAIL_LINES);
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
    const onData = (b: Buffer) => tail.push(b.toString("utf8"), opts.onLine);
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, output: tail.text() }));
  });
}

/**
 * mkdir is atomic, so the directory doubles as a cross-process lock. The owner's pid is
 * recorded so a lock left behind by a crashed fetch can be reclaimed.
 */
async function withDirLock<T>(lockDir: string, fn: () => Promise<T>): Promise<T> {
  const ownerFile = join(lockDir, "owner");
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(ownerFile, String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if (await lockIsStale(lockDir, ownerFile)) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

async function lockIsStale(lockDir: string, ownerFile: string): Promise<boolean> {
  try {
    const owner = Number.parseInt(await readFile(ownerFile, "utf8"), 10);
    if (Number.isFinite(owner) && owner > 0 && !pidAlive(owner)) return true;
  } catch {
    // The owner may not have written its pid yet; fall back to the age check.
  }
  try {
    const info = await stat(lockDir);
    return Date.now() - info.mtimeMs > LOCK_STALE_MS;
  } catch {
    return false;
  }
}

function pomXml(version: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>sluice.local</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>${version}</version>
  <packaging>pom</packaging>
  <properties>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_${SCALA_BINARY}</artifactId>
      <version>${version}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>${SLF4J_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>ch.qos.reload4j</groupId>
      <artifactId>reload4j</artifactId>
      <version>${RELOAD4J_VERSION}</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>${DEPENDENCY_PLUGIN_VERSION}</version>
      </plugin>
    </plugins>
  </build>
</project>
`;
}

async function fetchVersion(version: string, log: (line: string) => void): Promise<string> {
  const base = cacheDirFor(version);
  const libs = join(base, "libs");
  const marker = join(libs, COMPLETE_MARKER);
  if (existsSync(marker)) return libs;
  await mkdir(base, { recursive: true });
  return withDirLock(join(base, ".lock"), async () => {
    // Another process may have finished while this one waited for the lock.
    if (existsSync(marker)) return libs;
    // A half-copied directory from an interrupted run would otherwise look usable.
    await rm(libs, { recursive: true, force: true });
    await writeFile(join(base, "pom.xml"), pomXml(version));
    log(`fetching Kafka ${version} jars with mvn into ${libs}`);
    const { code, output } = await runCommand(
      "mvn",
      ["-q", "-B", "dependency:copy-dependencies", "-DoutputDirectory=libs", "-DincludeScope=runtime"],
      { cwd: base },
    );
    if (code !== 0) {
      throw new Error(`mvn could not fetch Kafka ${version} (exit ${code}):\n${output}`);
    }
    const jar = join(libs, `kafka_${SCALA_BINARY}-${version}.jar`);
    if (!existsSync(jar)) throw new Error(`mvn finished but ${jar} is missing`);
    await writeFile(marker, `${new Date().toISOString()}\n`);
    return libs;
  });
}

/** Returns a directory holding every jar a Kafka broker needs, fetching it with mvn on first use. */
export async function ensureKafkaJars(log: (line: string) => void = () => {}): Promise<string> {
  for (const version of KAFKA_VERSIONS) {
    const libs = join(cacheDirFor(version), "libs");
    if (existsSync(join(libs, COMPLETE_MARKER))) return libs;
  }
  const failures: string[] = [];
  for (const version of KAFKA_VERSIONS) {
    try {
      return await fetchVersion(version, log);
    } catch (err) {
      failures.push((err as Error).message);
    }
  }
  throw new Error(`no Kafka 3.9 release could be fetched:\n${failures.join("\n---\n")}`);
}

function kafkaVersionOf(libs: string): string {
  return dirname(libs).split(/[\\/]/).pop() ?? "unknown";
}

/** Binding port 0 lets the OS choose; both sockets stay open until all are picked so they differ. */
async function pickFreePorts(host: string, count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((res, rej) => {
          const srv = createServer();
          srv.unref();
          srv.once("error", rej);
          srv.listen(0, host, () => res(srv));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const addr = s.address();
    if (addr === null || typeof addr === "string") throw new Error("could not read an ephemeral port");
    return addr.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

/** A Kafka cluster id is a UUID in URL-safe base64 without padding. */
function newClusterId(): string {
  return randomBytes(16).toString("base64url");
}

function hostForUrl(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

export class KafkaServer {
  private readonly dataDir: string;
  private readonly host: string;
  private readonly partitions: number;
  private readonly log: (line: string) => void;
  private port: number | undefined;
  private controllerPort: number | undefined;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private logStream: WriteStream | undefined;
  private readonly tail = new LineTail(TAIL_LINES);
  private readonly killOnExit = () => {
    // Only synchronous work runs in an 'exit' handler, and a SIGKILL is all that can still help.
    if (this.child?.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  };

  constructor(opts: KafkaServerOptions) {
    this.dataDir = resolve(opts.dataDir);
    this.host = opts.host ?? "127.0.0.1";
    if (!isLoopback(this.host)) throw new Error(`KafkaServer binds loopback only, got host ${this.host}`);
    this.partitions = opts.partitions ?? 4;
    this.port = opts.port;
    this.controllerPort = opts.controllerPort;
    this.log = opts.log ?? (() => {});
  }

  get bootstrap(): string {
    if (this.port === undefined) throw new Error("KafkaServer.bootstrap is only known after start()");
    return `${hostForUrl(this.host)}:${this.port}`;
  }

  get pid(): number | undefined {
    const c = this.child;
    return c && c.exitCode === null && c.signalCode === null ? c.pid : undefined;
  }

  async start(): Promise<void> {
    if (this.child) throw new Error("KafkaServer is already running");
    const libs = await ensureKafkaJars(this.log);
    await this.assignPorts();
    await mkdir(this.dataDir, { recursive: true });
    const propsFile = await this.writeConfig();
    const log4jFile = join(this.dataDir, "log4j.properties");
    const classpath = join(libs, "*");
    const jvmArgs = [
      "-Xms256m",
      "-Xmx512m",
      "-XX:+UseG1GC",
      "-Djava.awt.headless=true",
      `-Dlog4j.configuration=${pathToFileURL(log4jFile).href}`,
      "-cp",
      classpath,
    ];

    const clusterId = await this.clusterId();
    const format = await runCommand("java", [
      ...jvmArgs,
      "kafka.tools.StorageTool",
      "format",
      "-t",
      clusterId,
      "-c",
      propsFile,
      "--ignore-formatted",
    ]);
    if (format.code !== 0) {
      throw new Error(`Kafka storage format failed (exit ${format.code}):\n${format.output}`);
    }

    this.logStream = createWriteStream(join(this.dataDir, "broker.log"), { flags: "a" });
    this.logStream.write(`--- starting Kafka ${kafkaVersionOf(libs)} at ${new Date().toISOString()}\n`);
    const child = spawn("java", [...jvmArgs, "kafka.Kafka", propsFile], {
      cwd: this.dataDir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    process.on("exit", this.killOnExit);
    const stream = this.logStream;
    const onData = (b: Buffer) => {
      stream.write(b);
      this.tail.push(b.toString("utf8"), this.log);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);

    let exitInfo: string | undefined;
    this.exited = new Promise<void>((res) => {
      child.once("error", (err) => {
        exitInfo = `could not spawn java: ${err.message}`;
        this.onChildGone(child);
        res();
      });
      child.once("close", (code, signal) => {
        exitInfo = signal ? `signal ${signal}` : `exit code ${code}`;
        this.onChildGone(child);
        res();
      });
    });

    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exitInfo !== undefined) {
        throw new Error(
          `Kafka broker exited before it was ready (${exitInfo}). Last output:\n${this.tail.text()}`,
        );
      }
      if (await this.probe()) {
        // A foreign broker on the same port could answer the probe; make sure ours is still alive.
        if (exitInfo === undefined) {
          this.log(`Kafka ${kafkaVersionOf(libs)} ready at ${this.bootstrap} (pid ${child.pid})`);
          return;
        }
      }
      await sleep(250);
    }
    await this.kill();
    throw new Error(
      `Kafka broker at ${this.bootstrap} was not ready within ${READY_TIMEOUT_MS / 1000}s. ` +
        `Last output:\n${this.tail.text()}`,
    );
  }

  async stop(): Promise<void> {
    const child = this.child;
    const exited = this.exited;
    if (!child || !exited) return;
    if (this.pid !== undefined) child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), STOP_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.log(`Kafka broker pid ${child.pid} ignored SIGTERM for ${STOP_GRACE_MS / 1000}s; killing it`);
      if (this.pid !== undefined) child.kill("SIGKILL");
      await exited;
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    const exited = this.exited;
    if (!child || !exited) return;
    if (this.pid !== undefined) child.kill("SIGKILL");
    await exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private onChildGone(child: ChildProcess): void {
    if (this.child !== child) return;
    process.off("exit", this.killOnExit);
    this.child = undefined;
    this.logStream?.end();
    this.logStream = undefined;
  }

  private async assignPorts(): Promise<void> {
    // Ports are fixed after the first start so restart() keeps the same bootstrap address.
    const missing = (this.port === undefined ? 1 : 0) + (this.controllerPort === undefined ? 1 : 0);
    if (missing === 0) return;
    const picked = await pickFreePorts(this.host, missing);
    this.port ??= picked.shift();
    this.controllerPort ??= picked.shift();
  }

  /** The id is kept in dataDir so a restart formats (or skips formatting) with the same one. */
  private async clusterId(): Promise<string> {
    const file = join(this.dataDir, "cluster.id");
    try {
      const existing = (await readFile(file, "utf8")).trim();
      if (existing) return existing;
    } catch {
      // First start in this data dir.
    }
    const id = newClusterId();
    await writeFile(file, `${id}\n`);
    return id;
  }

  private async writeConfig(): Promise<string> {
    const host = hostForUrl(this.host);
    const props: Record<string, string | number> = {
      "process.roles": "broker,controller",
      "node.id": 1,
      "controller.quorum.voters": `1@${host}:${this.controllerPort}`,
      listeners: `PLAINTEXT://${host}:${this.port},CONTROLLER://${host}:${this.controllerPort}`,
      "advertised.listeners": `PLAINTEXT://${host}:${this.port}`,
      "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
      "controller.listener.names": "CONTROLLER",
      "inter.broker.listener.name": "PLAINTEXT",
      "log.dirs": join(this.dataDir, "kraft-logs"),
      "num.partitions": this.partitions,
      "default.replication.factor": 1,
      "offsets.topic.replication.factor": 1,
      // The 50-partition default makes the first consumer group noticeably slower to appear.
      "offsets.topic.num.partitions": 10,
      "transaction.state.log.replication.factor": 1,
      "transaction.state.log.min.isr": 1,
      "min.insync.replicas": 1,
      "auto.create.topics.enable": "true",
      "group.initial.rebalance.delay.ms": 0,
      // After a SIGKILL the controller refuses the new incarnation until the old broker session
      // expires (9 s by default), which made kill-then-start fault tests wait ~15 s.
      "broker.heartbeat.interval.ms": 1_000,
      "broker.session.timeout.ms": 4_000,
    };
    const body = Object.entries(props)
      .map(([k, v]) => `${k}=${String(v).replace(/\\/g, "\\\\")}`)
      .join("\n");
    const propsFile = join(this.dataDir, "server.properties");
    await writeFile(propsFile, `${body}\n`);
    await writeFile(
      join(this.dataDir, "log4j.properties"),
      [
        "log4j.rootLogger=WARN, stdout",
        "log4j.appender.stdout=org.apache.log4j.ConsoleAppender",
        "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout",
        "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n",
        "",
      ].join("\n"),
    );
    return propsFile;
  }

  /** One bounded attempt: connect, list topics, and see this node in the cluster metadata. */
  private async probe(): Promise<boolean> {
    const kafka = new Kafka({
      clientId: "sluice-kafka-probe",
      brokers: [this.bootstrap],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1_000,
      requestTimeout: 2_000,
      retry: { retries: 0 },
    });
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.listTopics();
      const cluster = await admin.describeCluster();
      return cluster.brokers.length > 0;
    } catch {
      return false;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }
}

function parseFlags(args: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (!arg.startsWith("--")) throw new Error(`unexpected argument ${arg}`);
    const eq = arg.indexOf("=");
    if (eq > 0) {
      flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    } else {
      const value = args[i + 1];
      if (value === undefined) throw new Error(`${arg} needs a value`);
      flags.set(arg.slice(2), value);
      i++;
    }
  }
  return flags;
}

function intFlag(flags: Map<string, string>, name: string): number | undefined {
  const raw = flags.get(name);
  if (raw === undefined) return undefined;
  const n = Number.parseInt(raw, 10);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${name} must be a port number`);
  return n;
}

const USAGE = `usage:
  kafka.js fetch
  kafka.js start --data-dir DIR [--port P] [--controller-port P] [--partitions N]`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const say = (line: string) => process.stderr.write(`${line}\n`);
  if (command === "fetch") {
    const started = Date.now();
    const libs = await ensureKafkaJars(say);
    say(`Kafka jars ready in ${libs} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
    return;
  }
  if (command !== "start") {
    say(USAGE);
    process.exitCode = 2;
    return;
  }
  const flags = parseFlags(rest);
  const dataDir = flags.get("data-dir");
  if (!dataDir) throw new Error(`--data-dir is required\n${USAGE}`);
  const server = new KafkaServer({
    dataDir,
    port: intFlag(flags, "port"),
    controllerPort: intFlag(flags, "controller-port"),
    partitions: flags.has("partitions") ? Number.parseInt(flags.get("partitions") ?? "", 10) : undefined,
    log: say,
  });
  const pidFile = join(resolve(dataDir), "broker.pid");
  await server.start();
  await writeFile(pidFile, `${server.pid}\n`);
  process.stdout.write(`${server.bootstrap}\n`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping Kafka`);
    await server.stop();
    await rm(pidFile, { force: true });
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  // Keeps the foreground process alive while the broker runs, and notices if it dies on its own.
  const watch = setInterval(() => {
    if (!stopping && server.pid === undefined) {
      say("Kafka broker exited unexpectedly");
      clearInterval(watch);
      void rm(pidFile, { force: true }).then(() => process.exit(1));
    }
  }, 1_000);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
