import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
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
  ServiceProcess,
} from "./support.js";

/**
 * Versity S3 Gateway (Apache-2.0) with its POSIX backend: a complete S3 API (SigV4, path-style,
 * ListObjectsV2 with prefixes and delimiters, conditional writes, multipart) over plain files, so
 * buckets and objects survive restarts. It is built from source with `go install` into
 * `.cache/s3/`. MinIO was measured as well: its AGPL licence and a cold build about twice as long
 * (~7 min against ~4 min on 2 cores) made the gateway the better fit; SeaweedFS cannot be installed
 * with `go install` at all (its go.mod has replace directives).
 */
export const VERSITYGW_MODULE = "github.com/versity/versitygw";
export const VERSITYGW_VERSION = "v1.8.0";

export const TEST_ACCESS_KEY_ID = "sluice-test";
export const TEST_SECRET_ACCESS_KEY = "sluice-test-secret";
export const TEST_REGION = "us-east-1";

const BUILD_TIMEOUT_MS = 20 * 60_000;
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 15_000;

export interface S3ServerOptions {
  dataDir: string;
  port?: number;
  /** Loopback address to bind; default 127.0.0.1. */
  host?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  region?: string;
  log?: (line: string) => void;
}

function buildDir(): string {
  return cachePath("s3", `versitygw-${VERSITYGW_VERSION}`);
}

function binary(): string {
  return join(buildDir(), "bin", "versitygw");
}

/** Builds the pinned gateway with the Go toolchain on first use; returns the binary's path. */
export async function ensureS3Server(log: (line: string) => void = () => {}): Promise<string> {
  await ensureCached(buildDir(), log, async () => {
    log(
      `building ${VERSITYGW_MODULE}/cmd/versitygw@${VERSITYGW_VERSION} with go install (a few minutes when cold)`,
    );
    await mustRun(
      "go install versitygw",
      "go",
      ["install", "-ldflags=-s -w", `${VERSITYGW_MODULE}/cmd/versitygw@${VERSITYGW_VERSION}`],
      {
        env: { ...process.env, GOBIN: join(buildDir(), "bin") },
        timeoutMs: BUILD_TIMEOUT_MS,
        onLine: log,
      },
    );
    if (!existsSync(binary())) throw new Error(`go install finished but ${binary()} is missing`);
  });
  return binary();
}

export class S3Server {
  private readonly dataDir: string;
  private readonly host: string;
  private readonly log: (line: string) => void;
  private readonly proc: ServiceProcess;
  private httpPort: number | undefined;
  // A random health path doubles as proof that the gateway answering is the one started here.
  private readonly healthPath = `/sluice-health-${randomBytes(6).toString("hex")}`;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;

  constructor(opts: S3ServerOptions) {
    this.dataDir = resolve(opts.dataDir);
    this.host = opts.host ?? "127.0.0.1";
    assertLoopback("S3Server", this.host);
    this.httpPort = opts.port;
    this.accessKeyId = opts.accessKeyId ?? TEST_ACCESS_KEY_ID;
    this.secretAccessKey = opts.secretAccessKey ?? TEST_SECRET_ACCESS_KEY;
    this.region = opts.region ?? TEST_REGION;
    this.log = opts.log ?? (() => {});
    this.proc = new ServiceProcess("S3 gateway", this.log);
  }

  /** Path-style endpoint, e.g. http://127.0.0.1:7070 (use forcePathStyle with the AWS SDK). */
  get endpoint(): string {
    if (this.httpPort === undefined) throw new Error("S3Server.endpoint is only known after start()");
    return `http://${hostForUrl(this.host)}:${this.httpPort}`;
  }

  get port(): number | undefined {
    return this.httpPort;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  async start(): Promise<void> {
    if (this.proc.running) throw new Error("S3Server is already running");
    const bin = await ensureS3Server(this.log);
    if (this.httpPort === undefined) [this.httpPort] = await pickFreePorts(this.host, 1);
    const objects = join(this.dataDir, "objects");
    // Metadata (content type, user metadata, ETags) goes to sidecar files rather than extended
    // attributes, which not every filesystem a test runs on supports.
    const meta = join(this.dataDir, "meta");
    await mkdir(objects, { recursive: true });
    await mkdir(meta, { recursive: true });
    await this.proc.spawn({
      cmd: bin,
      args: [
        "--port",
        `${hostForUrl(this.host)}:${this.httpPort}`,
        "--region",
        this.region,
        "--health",
        this.healthPath,
        "--keep-alive",
        "--quiet",
        "posix",
        "--sidecar",
        meta,
        objects,
      ],
      cwd: this.dataDir,
      // Credentials travel in the environment so they do not show up in process listings.
      env: { ...process.env, ROOT_ACCESS_KEY: this.accessKeyId, ROOT_SECRET_KEY: this.secretAccessKey },
      logFile: join(this.dataDir, "s3.log"),
      banner: `starting versitygw ${VERSITYGW_VERSION} on ${this.endpoint}`,
    });
    await this.proc.waitReady(() => this.probe(), READY_TIMEOUT_MS, this.endpoint);
    this.log(`S3 gateway (versitygw ${VERSITYGW_VERSION}) ready at ${this.endpoint} (pid ${this.pid})`);
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

  private async probe(): Promise<boolean> {
    const res = await httpGet(`${this.endpoint}${this.healthPath}`, 2_000);
    return res?.status === 200;
  }
}

const USAGE = `usage:
  s3.js fetch
  s3.js start --data-dir DIR [--port P] [--access-key-id K --secret-access-key S] [--region R]`;

if (isMain(import.meta.url)) {
  cliMain((argv) =>
    runCli(
      {
        name: "S3 gateway",
        usage: USAGE,
        fetch: (log) => ensureS3Server(log),
        create: (flags, dataDir, log) =>
          new S3Server({
            dataDir,
            port: portFlag(flags, "port"),
            accessKeyId: flags.get("access-key-id"),
            secretAccessKey: flags.get("secret-access-key"),
            region: flags.get("region"),
            log,
          }),
        address: (server) => server.endpoint,
      },
      argv,
    ),
  );
}
