import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Kafka, logLevel } from "kafkajs";
import {
  assertLoopback,
  cachePath,
  cliMain,
  ensureCached,
  hostForUrl,
  isMain,
  mustRun,
  pickFreePorts,
  portFlag,
  runCli,
  ServiceProcess,
} from "./support.js";

// Kafka 4 removed protocol versions that kafkajs still sends, so stay on the 3.9 line.
// The later entry is only a fallback in case the preferred release cannot be resolved.
const KAFKA_VERSIONS = ["3.9.1", "3.9.0"] as const;
const SCALA_BINARY = "2.13";
// Versions matching what the 3.9 binary distribution ships, so broker logs go through log4j 1.x.
const SLF4J_VERSION = "1.7.36";
const RELOAD4J_VERSION = "1.2.25";
const DEPENDENCY_PLUGIN_VERSION = "3.8.1";

const FETCH_TIMEOUT_MS = 15 * 60_000;
const FORMAT_TIMEOUT_MS = 120_000;
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 20_000;

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

function libsDirFor(version: string): string {
  return cachePath("kafka", version, "libs");
}

/** ensureCached writes its marker inside the folder it fills, which is where earlier runs put it. */
function isFetched(version: string): boolean {
  return existsSync(join(libsDirFor(version), ".complete"));
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
  const libs = libsDirFor(version);
  // The pom sits next to libs/ because ensureCached empties the folder it fills before each attempt.
  const base = dirname(libs);
  await ensureCached(libs, log, async () => {
    await writeFile(join(base, "pom.xml"), pomXml(version));
    log(`fetching Kafka ${version} jars with mvn into ${libs}`);
    await mustRun(
      `mvn fetch of Kafka ${version}`,
      "mvn",
      ["-q", "-B", "dependency:copy-dependencies", "-DoutputDirectory=libs", "-DincludeScope=runtime"],
      { cwd: base, timeoutMs: FETCH_TIMEOUT_MS, onLine: log },
    );
    const jar = join(libs, `kafka_${SCALA_BINARY}-${version}.jar`);
    if (!existsSync(jar)) throw new Error(`mvn finished but ${jar} is missing`);
  });
  return libs;
}

/** Returns a directory holding every jar a Kafka broker needs, fetching it with mvn on first use. */
export async function ensureKafkaJars(log: (line: string) => void = () => {}): Promise<string> {
  // Any complete 3.9 cache will do, so a fallback fetched earlier is not fetched again.
  const cached = KAFKA_VERSIONS.find(isFetched);
  if (cached) return libsDirFor(cached);
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

/** A Kafka cluster id is a UUID in URL-safe base64 without padding. */
function newClusterId(): string {
  return randomBytes(16).toString("base64url");
}

export class KafkaServer {
  private readonly dataDir: string;
  private readonly host: string;
  private readonly partitions: number;
  private readonly log: (line: string) => void;
  private readonly proc: ServiceProcess;
  private port: number | undefined;
  private controllerPort: number | undefined;

  constructor(opts: KafkaServerOptions) {
    this.dataDir = resolve(opts.dataDir);
    this.host = opts.host ?? "127.0.0.1";
    assertLoopback("KafkaServer", this.host);
    this.partitions = opts.partitions ?? 4;
    this.port = opts.port;
    this.controllerPort = opts.controllerPort;
    this.log = opts.log ?? (() => {});
    this.proc = new ServiceProcess("Kafka broker", this.log);
  }

  get bootstrap(): string {
    if (this.port === undefined) throw new Error("KafkaServer.bootstrap is only known after start()");
    return `${hostForUrl(this.host)}:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  async start(): Promise<void> {
    if (this.proc.running) throw new Error("KafkaServer is already running");
    const libs = await ensureKafkaJars(this.log);
    await this.assignPorts();
    await mkdir(this.dataDir, { recursive: true });
    const propsFile = await this.writeConfig();
    const log4jFile = join(this.dataDir, "log4j.properties");
    const jvmArgs = [
      "-Xms256m",
      "-Xmx512m",
      "-XX:+UseG1GC",
      "-Djava.awt.headless=true",
      `-Dlog4j.configuration=${pathToFileURL(log4jFile).href}`,
      "-cp",
      join(libs, "*"),
    ];

    const clusterId = await this.clusterId();
    await mustRun(
      "Kafka storage format",
      "java",
      [
        ...jvmArgs,
        "kafka.tools.StorageTool",
        "format",
        "-t",
        clusterId,
        "-c",
        propsFile,
        "--ignore-formatted",
      ],
      { timeoutMs: FORMAT_TIMEOUT_MS },
    );

    const version = kafkaVersionOf(libs);
    await this.proc.spawn({
      cmd: "java",
      args: [...jvmArgs, "kafka.Kafka", propsFile],
      cwd: this.dataDir,
      logFile: join(this.dataDir, "broker.log"),
      banner: `starting Kafka ${version}`,
    });
    await this.proc.waitReady(() => this.probe(), READY_TIMEOUT_MS, this.bootstrap);
    this.log(`Kafka ${version} ready at ${this.bootstrap} (pid ${this.pid})`);
  }

  async stop(): Promise<void> {
    await this.proc.stop(STOP_GRACE_MS);
  }

  async kill(): Promise<void> {
    await this.proc.kill();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
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

const USAGE = `usage:
  kafka.js fetch
  kafka.js start --data-dir DIR [--port P] [--controller-port P] [--partitions N]`;

if (isMain(import.meta.url)) {
  cliMain((argv) =>
    runCli(
      {
        name: "Kafka",
        usage: USAGE,
        fetch: ensureKafkaJars,
        create: (flags, dataDir, log) =>
          new KafkaServer({
            dataDir,
            port: portFlag(flags, "port"),
            controllerPort: portFlag(flags, "controller-port"),
            partitions: flags.has("partitions")
              ? Number.parseInt(flags.get("partitions") ?? "", 10)
              : undefined,
            log,
          }),
        address: (server) => server.bootstrap,
        pidFile: "broker.pid",
      },
      argv,
    ),
  );
}
