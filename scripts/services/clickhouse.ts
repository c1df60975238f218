import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
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
  projectRoot,
  runCli,
  ServiceProcess,
} from "./support.js";

/**
 * No ClickHouse server build reaches the test machines (Debian's is 18.16), but the chdb-core wheel
 * on PyPI carries the ClickHouse engine itself (26.9). clickhouse_http.py, beside this file, serves
 * ClickHouse's HTTP interface from that engine with an on-disk database, so @clickhouse/client talks
 * to real ClickHouse SQL, MergeTree storage and error texts.
 *
 * The wheel is installed without its optional pandas/pyarrow dependencies: the HTTP bridge only
 * moves bytes, and they would double the download.
 */
export const CHDB_PACKAGE = "chdb-core";
export const CHDB_VERSION = "26.9.0";

const FETCH_TIMEOUT_MS = 15 * 60_000;
const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 20_000;
const BRIDGE = join("scripts", "services", "clickhouse_http.py");

export interface ClickHouseServerOptions {
  dataDir: string;
  /** HTTP port; a free one is picked when absent. */
  port?: number;
  /** Loopback address to bind; default 127.0.0.1. */
  host?: string;
  /** The one user the server accepts; default "default" with an empty password, like a fresh server. */
  username?: string;
  password?: string;
  /** Python used to create the cached virtualenv; default python3. */
  python?: string;
  log?: (line: string) => void;
}

function venvDir(): string {
  return cachePath("clickhouse", `${CHDB_PACKAGE}-${CHDB_VERSION}`, "venv");
}

function venvPython(): string {
  return join(venvDir(), "bin", "python");
}

/** Creates `.cache/clickhouse/chdb-core-<v>/venv` with the pinned engine on first use. */
export async function ensureClickHouse(
  log: (line: string) => void = () => {},
  python = "python3",
): Promise<string> {
  const dir = cachePath("clickhouse", `${CHDB_PACKAGE}-${CHDB_VERSION}`);
  await ensureCached(dir, log, async () => {
    log(`creating a Python virtualenv with ${CHDB_PACKAGE}==${CHDB_VERSION} in ${dir}`);
    await mustRun("python -m venv", python, ["-m", "venv", venvDir()], {
      timeoutMs: FETCH_TIMEOUT_MS,
      onLine: log,
    });
    const quietPip = { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: "1", PIP_NO_INPUT: "1" };
    await mustRun(
      `pip install ${CHDB_PACKAGE}==${CHDB_VERSION}`,
      venvPython(),
      ["-m", "pip", "install", "--quiet", "--no-deps", `${CHDB_PACKAGE}==${CHDB_VERSION}`],
      { timeoutMs: FETCH_TIMEOUT_MS, onLine: log, env: quietPip },
    );
    await mustRun(
      "chdb import check",
      venvPython(),
      ["-c", "from chdb import session; print(session.Session().query('SELECT version()', 'TSV'))"],
      { timeoutMs: 120_000, onLine: log },
    );
  });
  return venvDir();
}

export class ClickHouseServer {
  private readonly dataDir: string;
  private readonly host: string;
  private readonly log: (line: string) => void;
  private readonly opts: ClickHouseServerOptions;
  private readonly proc: ServiceProcess;
  private httpPort: number | undefined;
  private displayName: string | undefined;
  private versionValue: string | undefined;

  constructor(opts: ClickHouseServerOptions) {
    this.opts = opts;
    this.dataDir = resolve(opts.dataDir);
    this.host = opts.host ?? "127.0.0.1";
    assertLoopback("ClickHouseServer", this.host);
    this.httpPort = opts.port;
    this.log = opts.log ?? (() => {});
    this.proc = new ServiceProcess("ClickHouse", this.log);
  }

  /** e.g. http://127.0.0.1:8123, the `url` option of @clickhouse/client's createClient. */
  get url(): string {
    if (this.httpPort === undefined) throw new Error("ClickHouseServer.url is only known after start()");
    return `http://${hostForUrl(this.host)}:${this.httpPort}`;
  }

  get port(): number | undefined {
    return this.httpPort;
  }

  get username(): string {
    return this.opts.username ?? "default";
  }

  get password(): string {
    return this.opts.password ?? "";
  }

  /** What `SELECT version()` answers (known after start()). */
  get version(): string | undefined {
    return this.versionValue;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  async start(): Promise<void> {
    if (this.proc.running) throw new Error("ClickHouseServer is already running");
    await ensureClickHouse(this.log, this.opts.python);
    if (this.httpPort === undefined) [this.httpPort] = await pickFreePorts(this.host, 1);
    await mkdir(this.dataDir, { recursive: true });
    this.displayName = await this.persistentDisplayName();
    const bridge = join(projectRoot(), BRIDGE);
    if (!existsSync(bridge)) throw new Error(`${bridge} is missing`);
    await this.proc.spawn({
      cmd: venvPython(),
      args: [
        "-u",
        bridge,
        "--path",
        join(this.dataDir, "db"),
        "--config",
        join(this.dataDir, "config.xml"),
        "--host",
        this.host,
        "--port",
        String(this.httpPort),
        "--display-name",
        this.displayName,
        "--user",
        this.username,
        "--password",
        this.password,
      ],
      cwd: this.dataDir,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
      logFile: join(this.dataDir, "clickhouse.log"),
      banner: `starting ClickHouse (${CHDB_PACKAGE} ${CHDB_VERSION}) on ${this.url}`,
    });
    await this.proc.waitReady(() => this.probe(), READY_TIMEOUT_MS, this.url);
    this.versionValue = await this.queryVersion();
    this.log(`ClickHouse ${this.versionValue} (chdb) ready at ${this.url} (pid ${this.pid})`);
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

  /** Kept in the data dir so the probe can tell this server from any other on the port. */
  private async persistentDisplayName(): Promise<string> {
    const file = join(this.dataDir, "display.name");
    try {
      const existing = (await readFile(file, "utf8")).trim();
      if (existing) return existing;
    } catch {
      // First start in this data dir.
    }
    const name = `sluice-clickhouse-${randomBytes(4).toString("hex")}`;
    await writeFile(file, `${name}\n`);
    return name;
  }

  private authHeader(): Record<string, string> {
    return { authorization: `Basic ${Buffer.from(`${this.username}:${this.password}`).toString("base64")}` };
  }

  private async probe(): Promise<boolean> {
    const res = await fetch(`${this.url}/ping`, { signal: AbortSignal.timeout(2_000) }).catch(
      () => undefined,
    );
    return res?.status === 200 && res.headers.get("x-clickhouse-server-display-name") === this.displayName;
  }

  private async queryVersion(): Promise<string> {
    const res = await httpGet(
      `${this.url}/?query=${encodeURIComponent("SELECT version()")}`,
      10_000,
      this.authHeader(),
    );
    if (res?.status !== 200) throw new Error(`ClickHouse at ${this.url} did not answer SELECT version()`);
    return res.body.trim();
  }
}

const USAGE = `usage:
  clickhouse.js fetch
  clickhouse.js start --data-dir DIR [--port P] [--user NAME --password SECRET]`;

if (isMain(import.meta.url)) {
  cliMain((argv) =>
    runCli(
      {
        name: "ClickHouse",
        usage: USAGE,
        fetch: (log) => ensureClickHouse(log),
        create: (flags, dataDir, log) =>
          new ClickHouseServer({
            dataDir,
            port: portFlag(flags, "port"),
            username: flags.get("user"),
            password: flags.get("password"),
            log,
          }),
        address: (server) => server.url,
      },
      argv,
    ),
  );
}
