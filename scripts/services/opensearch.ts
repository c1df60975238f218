import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, realpath, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  assertLoopback,
  cachePath,
  cliMain,
  ensureCached,
  hostForUrl,
  httpGet,
  isMain,
  mustRun,
  pickFreePorts,
  portFlag,
  runCli,
  runCommand,
  ServiceProcess,
} from "./support.js";

/**
 * OpenSearch publishes its "integ-test-zip" distribution to Maven Central: the real server without
 * a bundled JDK and without the security plugin. From 3.x on it carries every core module
 * (analysis-common, lang-painless, reindex, mapper-extras, ingest-common, ...); the 2.19 one only has
 * transport-netty4. 3.x needs Java 21+, 2.19 cannot run past Java 23 (it installs a security
 * manager), so the newest line is used when a suitable JDK is found and 2.19 is the fallback.
 */
interface Distribution {
  version: string;
  minJava: number;
  maxJava: number;
  jvmArgs: (home: string, javaMajor: number) => string[];
}

const DISTRIBUTIONS: readonly Distribution[] = [
  {
    version: "3.8.0",
    minJava: 21,
    maxJava: 99,
    jvmArgs: (home) => [
      "-Djava.locale.providers=SPI,CLDR",
      "--add-modules=jdk.incubator.vector",
      "--enable-native-access=ALL-UNNAMED",
      // 3.x enforces its plugin policies through this agent instead of the removed security manager.
      `-javaagent:${join(home, "agent", "opensearch-agent.jar")}`,
      "--add-opens=java.base/java.nio=ALL-UNNAMED",
      "-Dorg.apache.lucene.store.MMapDirectory.sharedArenaMaxPermits=1",
    ],
  },
  {
    version: "2.19.6",
    minJava: 17,
    maxJava: 23,
    jvmArgs: (_home, javaMajor) => [
      // 2.x formats dates with the COMPAT provider, which later JDKs dropped.
      "-Djava.locale.providers=SPI,COMPAT",
      ...(javaMajor >= 18 ? ["-Djava.security.manager=allow"] : []),
      ...(javaMajor >= 20 ? ["--add-modules=jdk.incubator.vector"] : []),
      "-Djava.util.concurrent.ForkJoinPool.common.threadFactory=org.opensearch.secure_sm.SecuredForkJoinWorkerThreadFactory",
    ],
  },
];

const GROUP = "org.opensearch.distribution.integ-test-zip";
const DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1";
const FETCH_TIMEOUT_MS = 15 * 60_000;
const READY_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 30_000;
const JDK_DIRS = "/usr/lib/jvm";

export interface OpenSearchServerOptions {
  dataDir: string;
  /** HTTP port; a free one is picked when absent. */
  port?: number;
  transportPort?: number;
  /** Loopback address to bind; default 127.0.0.1. */
  host?: string;
  /** Forces a distribution version from the table above; default: the newest the JDKs here can run. */
  version?: string;
  /** A JDK home to run with; default: searched (OPENSEARCH_JAVA_HOME, JAVA_HOME, /usr/lib/jvm, PATH). */
  javaHome?: string;
  /** JVM heap; default -Xms512m -Xmx1g. */
  heap?: { min: string; max: string };
  log?: (line: string) => void;
}

interface Java {
  bin: string;
  major: number;
}

async function javaMajorOf(bin: string): Promise<number | undefined> {
  try {
    const r = await runCommand(bin, ["-version"], { timeoutMs: 30_000 });
    const m = /version "(\d+)(?:\.(\d+))?/.exec(r.output);
    if (r.code !== 0 || !m) return undefined;
    const first = Number(m[1]);
    // Java 8 and older report "1.8.0_x".
    return first === 1 ? Number(m[2]) : first;
  } catch {
    return undefined;
  }
}

async function candidateJavas(javaHome: string | undefined): Promise<Java[]> {
  const bins: string[] = [];
  if (javaHome) {
    bins.push(join(javaHome, "bin", "java"));
  } else {
    for (const v of [process.env.OPENSEARCH_JAVA_HOME, process.env.JAVA_HOME]) {
      if (v) bins.push(join(v, "bin", "java"));
    }
    try {
      for (const entry of (await readdir(JDK_DIRS)).sort()) bins.push(join(JDK_DIRS, entry, "bin", "java"));
    } catch {
      // No system JDK folder; PATH still counts.
    }
    bins.push("java");
  }
  const found: Java[] = [];
  const seen = new Set<string>();
  for (const bin of bins) {
    if (bin !== "java" && !existsSync(bin)) continue;
    // /usr/lib/jvm holds alias links to the same JDK; asking each of them costs a JVM start.
    const real = bin === "java" ? bin : await realpath(bin);
    if (seen.has(real)) continue;
    seen.add(real);
    const major = await javaMajorOf(bin);
    if (major !== undefined) found.push({ bin, major });
  }
  return found;
}

/** The newest distribution that one of the JDKs here can run, and the newest such JDK. */
async function chooseRuntime(
  forcedVersion: string | undefined,
  javaHome: string | undefined,
): Promise<{ dist: Distribution; java: Java }> {
  const javas = (await candidateJavas(javaHome)).sort((a, b) => b.major - a.major);
  const wanted = forcedVersion ?? process.env.SLUICE_OPENSEARCH_VERSION;
  const dists = wanted ? DISTRIBUTIONS.filter((d) => d.version === wanted) : DISTRIBUTIONS;
  if (dists.length === 0) {
    throw new Error(`OpenSearch ${wanted} is not one of ${DISTRIBUTIONS.map((d) => d.version).join(", ")}`);
  }
  for (const dist of dists) {
    const java = javas.find((j) => j.major >= dist.minJava && j.major <= dist.maxJava);
    if (java) return { dist, java };
  }
  const have = javas.map((j) => `${j.bin} (${j.major})`).join(", ") || "none";
  const need = dists.map((d) => `${d.version} needs Java ${d.minJava}-${d.maxJava}`).join("; ");
  throw new Error(`no JDK here can run OpenSearch: ${need}; found ${have}`);
}

/** The JVM would apply JAVA_TOOL_OPTIONS from the caller's shell on top of the flags chosen here. */
function javaEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.JAVA_TOOL_OPTIONS;
  delete env._JAVA_OPTIONS;
  return env;
}

function homeOf(version: string): string {
  return join(cachePath("opensearch", version), `opensearch-${version}`);
}

/** Unpacks the distribution zip with Maven into `.cache/opensearch/<version>` on first use. */
export async function ensureOpenSearch(
  version: string,
  log: (line: string) => void = () => {},
): Promise<string> {
  const dir = cachePath("opensearch", version);
  await ensureCached(dir, log, async () => {
    log(`fetching ${GROUP}:opensearch:${version}:zip with mvn into ${dir}`);
    await mustRun(
      `mvn unpack of OpenSearch ${version}`,
      "mvn",
      [
        "-q",
        "-B",
        `${DEPENDENCY_PLUGIN}:unpack`,
        `-Dartifact=${GROUP}:opensearch:${version}:zip`,
        `-DoutputDirectory=${dir}`,
        `-DmarkersDirectory=${join(dir, ".markers")}`,
      ],
      { cwd: dir, timeoutMs: FETCH_TIMEOUT_MS, onLine: log },
    );
    if (!existsSync(join(homeOf(version), "lib", `opensearch-${version}.jar`))) {
      throw new Error(`mvn finished but ${homeOf(version)} holds no server jar`);
    }
  });
  return homeOf(version);
}

export class OpenSearchServer {
  private readonly dataDir: string;
  private readonly host: string;
  private readonly log: (line: string) => void;
  private readonly opts: OpenSearchServerOptions;
  private readonly proc: ServiceProcess;
  private httpPort: number | undefined;
  private transportPortValue: number | undefined;
  private versionValue: string | undefined;
  private clusterName: string | undefined;

  constructor(opts: OpenSearchServerOptions) {
    this.opts = opts;
    this.dataDir = resolve(opts.dataDir);
    this.host = opts.host ?? "127.0.0.1";
    assertLoopback("OpenSearchServer", this.host);
    this.httpPort = opts.port;
    this.transportPortValue = opts.transportPort;
    this.log = opts.log ?? (() => {});
    this.proc = new ServiceProcess("OpenSearch", this.log);
  }

  /** e.g. http://127.0.0.1:9200 */
  get url(): string {
    if (this.httpPort === undefined) throw new Error("OpenSearchServer.url is only known after start()");
    return `http://${hostForUrl(this.host)}:${this.httpPort}`;
  }

  get port(): number | undefined {
    return this.httpPort;
  }

  get transportPort(): number | undefined {
    return this.transportPortValue;
  }

  /** The distribution version started (known after start()). */
  get version(): string | undefined {
    return this.versionValue;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  async start(): Promise<void> {
    if (this.proc.running) throw new Error("OpenSearchServer is already running");
    const { dist, java } = await chooseRuntime(this.opts.version, this.opts.javaHome);
    const home = await ensureOpenSearch(dist.version, this.log);
    this.versionValue = dist.version;
    await this.assignPorts();
    for (const sub of ["config", "data", "logs", "tmp"])
      await mkdir(join(this.dataDir, sub), { recursive: true });
    this.clusterName = await this.persistentClusterName();
    const conf = join(this.dataDir, "config");
    await this.writeConfig(conf);

    const heap = this.opts.heap ?? { min: "512m", max: "1g" };
    const args = [
      `-Xms${heap.min}`,
      `-Xmx${heap.max}`,
      "-XX:+UseG1GC",
      "-Xss1m",
      "-Djava.awt.headless=true",
      "-Dfile.encoding=UTF-8",
      "-XX:-OmitStackTraceInFastThrow",
      "-Dio.netty.noUnsafe=true",
      "-Dio.netty.noKeySetOptimization=true",
      "-Dio.netty.recycler.maxCapacityPerThread=0",
      "-Dio.netty.allocator.numDirectArenas=0",
      "-Dlog4j.shutdownHookEnabled=false",
      "-Dlog4j2.disable.jmx=true",
      `-Djava.io.tmpdir=${join(this.dataDir, "tmp")}`,
      `-XX:ErrorFile=${join(this.dataDir, "logs", "hs_err_pid%p.log")}`,
      // OpenSearch refuses to start as root, and CI runs as root. The check needs JNA's native
      // library; keeping JNA from loading it turns the refusal into a warning. JNA only serves
      // mlockall, seccomp and rlimit checks, none of which a loopback test node needs.
      "-Djna.nosys=true",
      "-Djna.noclasspath=true",
      `-Djna.boot.library.path=${join(this.dataDir, "no-jna")}`,
      ...dist.jvmArgs(home, java.major),
      `-Dopensearch.path.home=${home}`,
      `-Dopensearch.path.conf=${conf}`,
      "-Dopensearch.distribution.type=zip",
      "-Dopensearch.bundled_jdk=false",
      "-cp",
      join(home, "lib", "*"),
      "org.opensearch.bootstrap.OpenSearch",
    ];
    await this.proc.spawn({
      cmd: java.bin,
      args,
      cwd: this.dataDir,
      env: javaEnv(),
      logFile: join(this.dataDir, "opensearch.log"),
      banner: `starting OpenSearch ${dist.version} with ${java.bin} (Java ${java.major})`,
    });
    await this.proc.waitReady(() => this.probe(), READY_TIMEOUT_MS, this.url);
    this.log(`OpenSearch ${dist.version} ready at ${this.url} (pid ${this.pid}, Java ${java.major})`);
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
    // Ports are fixed after the first start so restart() keeps the same URL.
    const missing = (this.httpPort === undefined ? 1 : 0) + (this.transportPortValue === undefined ? 1 : 0);
    if (missing === 0) return;
    const picked = await pickFreePorts(this.host, missing);
    this.httpPort ??= picked.shift();
    this.transportPortValue ??= picked.shift();
  }

  /** Kept in the data dir so the probe can tell this node from any other on the port. */
  private async persistentClusterName(): Promise<string> {
    const file = join(this.dataDir, "cluster.name");
    try {
      const existing = (await readFile(file, "utf8")).trim();
      if (existing) return existing;
    } catch {
      // First start in this data dir.
    }
    const name = `sluice-test-${randomBytes(4).toString("hex")}`;
    await writeFile(file, `${name}\n`);
    return name;
  }

  private async writeConfig(conf: string): Promise<void> {
    const q = (v: string | number) => JSON.stringify(v);
    const settings: Record<string, string | number | boolean> = {
      "cluster.name": this.clusterName ?? "sluice-test",
      "node.name": "sluice-test-node",
      "discovery.type": "single-node",
      "network.host": this.host,
      "http.port": this.httpPort ?? 0,
      "transport.port": this.transportPortValue ?? 0,
      "path.data": join(this.dataDir, "data"),
      "path.logs": join(this.dataDir, "logs"),
      "bootstrap.memory_lock": false,
      // Test machines run with little free disk at times; the default watermarks would then
      // block shard allocation (red cluster) or make indices read-only mid-test.
      "cluster.routing.allocation.disk.threshold_enabled": false,
    };
    const yml = Object.entries(settings)
      .map(([k, v]) => `${k}: ${typeof v === "boolean" ? String(v) : q(v)}`)
      .join("\n");
    await writeFile(join(conf, "opensearch.yml"), `${yml}\n`);
    // Everything goes to stdout, which the launcher copies into <dataDir>/opensearch.log; the stock
    // rolling-file setup would also fail noisily without JNA.
    await writeFile(
      join(conf, "log4j2.properties"),
      [
        "status = error",
        "appender.console.type = Console",
        "appender.console.name = console",
        "appender.console.layout.type = PatternLayout",
        "appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] %marker%m%n",
        "rootLogger.level = warn",
        "rootLogger.appenderRef.console.ref = console",
        "logger.node.name = org.opensearch.node.Node",
        "logger.node.level = info",
        "",
      ].join("\n"),
    );
  }

  /** Ready means the cluster is at least yellow and it is this node's cluster answering. */
  private async probe(): Promise<boolean> {
    const res = await httpGet(`${this.url}/_cluster/health?wait_for_status=yellow&timeout=2s`, 5_000);
    if (res?.status !== 200) return false;
    try {
      const health = JSON.parse(res.body) as { cluster_name?: string; status?: string };
      return health.cluster_name === this.clusterName && health.status !== "red";
    } catch {
      return false;
    }
  }
}

const USAGE = `usage:
  opensearch.js fetch
  opensearch.js start --data-dir DIR [--port P] [--transport-port P] [--version ${DISTRIBUTIONS.map((d) => d.version).join("|")}]`;

if (isMain(import.meta.url)) {
  cliMain((argv) =>
    runCli(
      {
        name: "OpenSearch",
        usage: USAGE,
        fetch: async (log) => {
          const { dist, java } = await chooseRuntime(undefined, undefined);
          log(`OpenSearch ${dist.version} will run on ${java.bin} (Java ${java.major})`);
          return ensureOpenSearch(dist.version, log);
        },
        create: (flags, dataDir, log) =>
          new OpenSearchServer({
            dataDir,
            port: portFlag(flags, "port"),
            transportPort: portFlag(flags, "transport-port"),
            version: flags.get("version"),
            log,
          }),
        address: (server) => server.url,
      },
      argv,
    ),
  );
}
