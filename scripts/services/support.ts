/**
 * Pieces shared by the test-service launchers in this folder (Kafka, OpenSearch, ClickHouse, S3): where
 * the project caches fetched servers, a cross-process lock for first-time fetches, free loopback
 * ports, a supervised child process, and the `start --data-dir` command line.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, existsSync, type WriteStream } from "node:fs";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const TAIL_LINES = 200;
const LOCK_STALE_MS = 30 * 60_000;
const LOCK_WAIT_MS = 30 * 60_000;

export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** `.cache/<service>/...` under the project root; the folder is git-ignored. */
export function cachePath(service: string, ...parts: string[]): string {
  return join(projectRoot(), ".cache", service, ...parts);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export function assertLoopback(service: string, host: string): void {
  if (!isLoopback(host)) throw new Error(`${service} binds loopback only, got host ${host}`);
}

export function hostForUrl(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

export function pidAlive(pid: number): boolean {
  try {
    // Signal 0 only checks existence; nothing is delivered.
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Keeps the last N lines of a stream so a failure can show what the server said. */
export class LineTail {
  private readonly lines: string[] = [];
  private partial = "";
  constructor(private readonly max: number = TAIL_LINES) {}

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

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  onLine?: (line: string) => void;
  /** The command is SIGKILLed (only this child) when it runs longer. */
  timeoutMs: number;
}

export function runCommand(
  cmd: string,
  args: string[],
  opts: RunOptions,
): Promise<{ code: number | null; output: string; timedOut: boolean }> {
  return new Promise((resolvePromise, reject) => {
    const tail = new LineTail();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs);
    const onData = (b: Buffer) => tail.push(b.toString("utf8"), opts.onLine);
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, output: tail.text(), timedOut });
    });
  });
}

/** Throws with the command's last output unless it exited 0. */
export async function mustRun(what: string, cmd: string, args: string[], opts: RunOptions): Promise<string> {
  const started = Date.now();
  const r = await runCommand(cmd, args, opts);
  if (r.timedOut) {
    throw new Error(`${what} did not finish within ${opts.timeoutMs / 1000}s:\n${r.output}`);
  }
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.output}`);
  opts.onLine?.(`${what}: done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return r.output;
}

/**
 * mkdir is atomic, so the directory doubles as a cross-process lock for first-time fetches (two
 * test files, or a test and a hand-started server, may both find the cache empty). The owner's pid
 * is recorded so a lock left behind by a crashed fetch can be reclaimed.
 */
export async function withDirLock<T>(lockDir: string, fn: () => Promise<T>): Promise<T> {
  const ownerFile = join(lockDir, "owner");
  await mkdir(dirname(lockDir), { recursive: true });
  const deadline = Date.now() + LOCK_WAIT_MS;
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
      if (Date.now() > deadline) throw new Error(`gave up waiting for the lock ${lockDir}`);
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

/**
 * Runs `build` once per cache folder: a marker file written last tells later runs (and other
 * processes) that the folder is complete, so an interrupted fetch is never mistaken for a good one.
 */
export async function ensureCached(
  dir: string,
  log: (line: string) => void,
  build: () => Promise<void>,
): Promise<void> {
  const marker = join(dir, ".complete");
  if (existsSync(marker)) return;
  await withDirLock(`${dir}.lock`, async () => {
    if (existsSync(marker)) return;
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const started = Date.now();
    await build();
    await writeFile(marker, `${new Date().toISOString()}\n`);
    log(`cached ${dir} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  });
}

/** Binding port 0 lets the OS choose; all sockets stay open until every port is picked so they differ. */
export async function pickFreePorts(host: string, count: number): Promise<number[]> {
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

/** One bounded HTTP request; any network failure or timeout comes back as undefined. */
export async function httpGet(
  url: string,
  timeoutMs: number,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}

export interface SpawnSpec {
  cmd: string;
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Appended with the server's stdout and stderr. */
  logFile: string;
  banner: string;
}

/**
 * One supervised server process. It only ever signals the child it spawned, and SIGKILLs it if
 * the Node process exits first so a crashed test run leaves nothing behind.
 */
export class ServiceProcess {
  private child: ChildProcess | undefined;
  private exitedPromise: Promise<void> | undefined;
  private exitInfoText: string | undefined;
  private logStream: WriteStream | undefined;
  readonly tail = new LineTail();
  private readonly killOnExit = () => {
    // Only synchronous work runs in an 'exit' handler, and a SIGKILL is all that can still help.
    if (this.child?.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  };

  constructor(
    private readonly name: string,
    private readonly log: (line: string) => void,
  ) {}

  get pid(): number | undefined {
    const c = this.child;
    return c && c.exitCode === null && c.signalCode === null ? c.pid : undefined;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Set once the child has gone: why it ended. */
  get exitInfo(): string | undefined {
    return this.exitInfoText;
  }

  async spawn(spec: SpawnSpec): Promise<void> {
    if (this.child) throw new Error(`${this.name} is already running`);
    await mkdir(dirname(spec.logFile), { recursive: true });
    const stream = createWriteStream(spec.logFile, { flags: "a" });
    this.logStream = stream;
    stream.write(`--- ${spec.banner} at ${new Date().toISOString()}\n`);
    this.exitInfoText = undefined;
    const child = spawn(spec.cmd, spec.args, {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    process.on("exit", this.killOnExit);
    const onData = (b: Buffer) => {
      stream.write(b);
      this.tail.push(b.toString("utf8"), this.log);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    this.exitedPromise = new Promise<void>((res) => {
      child.once("error", (err) => {
        this.exitInfoText = `could not spawn ${spec.cmd}: ${err.message}`;
        this.onGone(child);
        res();
      });
      child.once("close", (code, signal) => {
        this.exitInfoText = signal ? `signal ${signal}` : `exit code ${code}`;
        this.onGone(child);
        res();
      });
    });
  }

  /**
   * Polls `probe` until it answers true, the child dies, or the deadline passes (then the child
   * is killed). The child must still be alive after a good probe: a stranger on the same port
   * could otherwise pass for it.
   */
  async waitReady(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exitInfoText !== undefined && this.child === undefined) {
        throw new Error(
          `${this.name} exited before it was ready (${this.exitInfoText}). Last output:\n${this.tail.text()}`,
        );
      }
      if ((await probe()) && this.pid !== undefined) return;
      await sleep(250);
    }
    await this.kill();
    throw new Error(
      `${this.name} at ${what} was not ready within ${timeoutMs / 1000}s. Last output:\n${this.tail.text()}`,
    );
  }

  async stop(graceMs: number): Promise<void> {
    const child = this.child;
    const exited = this.exitedPromise;
    if (!child || !exited) return;
    if (this.pid !== undefined) child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.log(`${this.name} pid ${child.pid} ignored SIGTERM for ${graceMs / 1000}s; killing it`);
      if (this.pid !== undefined) child.kill("SIGKILL");
      await exited;
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    const exited = this.exitedPromise;
    if (!child || !exited) return;
    if (this.pid !== undefined) child.kill("SIGKILL");
    await exited;
  }

  private onGone(child: ChildProcess): void {
    if (this.child !== child) return;
    process.off("exit", this.killOnExit);
    this.child = undefined;
    this.logStream?.end();
    this.logStream = undefined;
  }
}

export function parseFlags(args: string[]): Map<string, string> {
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

export function portFlag(flags: Map<string, string>, name: string): number | undefined {
  const raw = flags.get(name);
  if (raw === undefined) return undefined;
  const n = Number.parseInt(raw, 10);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${name} must be a port number`);
  return n;
}

/** What the shared command line needs from a service. */
export interface CliServer {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly pid: number | undefined;
}

export interface CliSpec<S extends CliServer> {
  /** Name used in messages, e.g. "OpenSearch". */
  name: string;
  usage: string;
  /** Fetches or builds whatever the server needs, without starting it. */
  fetch: (log: (line: string) => void) => Promise<string>;
  create: (flags: Map<string, string>, dataDir: string, log: (line: string) => void) => S;
  /** The line printed on stdout once clients can connect. */
  address: (server: S) => string;
  /** File name in the data dir that holds the server pid; default `server.pid`. */
  pidFile?: string;
}

/**
 * `fetch` or `start --data-dir D [--port P]`: start stays in the foreground until SIGINT or
 * SIGTERM, prints the address on stdout when ready and keeps the server pid in
 * `<data-dir>/server.pid` (or the name given as `pidFile`).
 */
export async function runCli<S extends CliServer>(spec: CliSpec<S>, argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const say = (line: string) => process.stderr.write(`${line}\n`);
  if (command === "fetch") {
    const started = Date.now();
    const where = await spec.fetch(say);
    say(`${spec.name} ready in ${where} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
    return;
  }
  if (command !== "start") {
    say(spec.usage);
    process.exitCode = 2;
    return;
  }
  const flags = parseFlags(rest);
  const dataDir = flags.get("data-dir");
  if (!dataDir) throw new Error(`--data-dir is required\n${spec.usage}`);
  const server = spec.create(flags, resolve(dataDir), say);
  const pidFile = join(resolve(dataDir), spec.pidFile ?? "server.pid");
  await server.start();
  await writeFile(pidFile, `${server.pid}\n`);
  process.stdout.write(`${spec.address(server)}\n`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping ${spec.name}`);
    await server.stop();
    await rm(pidFile, { force: true });
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  // Keeps the foreground process alive while the server runs, and notices if it dies on its own.
  const watch = setInterval(() => {
    if (!stopping && server.pid === undefined) {
      say(`${spec.name} exited unexpectedly`);
      clearInterval(watch);
      void rm(pidFile, { force: true }).then(() => process.exit(1));
    }
  }, 1_000);
}

/** True when the module at `metaUrl` is the script node was asked to run. */
export function isMain(metaUrl: string): boolean {
  return Boolean(process.argv[1]) && metaUrl === pathToFileURL(resolve(process.argv[1] ?? "")).href;
}

export function cliMain(run: (argv: string[]) => Promise<void>): void {
  run(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
