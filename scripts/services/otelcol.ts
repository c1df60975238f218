/**
 * The OpenTelemetry Collector as a peer for comparisons: a minimal build
 * (OTLP receiver, debug exporter) of the published Collector modules, from
 * the Go module in conformance/collector, cached in .cache/otelcol/<hash>.
 * It runs on loopback with free ports and is stopped by its own pid.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { join, resolve } from "node:path";
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
  projectRoot,
  runCli,
  ServiceProcess,
} from "./support.js";

const BUILD_TIMEOUT_MS = 15 * 60_000;
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

export interface CollectorServerOptions {
  dataDir: string;
  host?: string;
  grpcPort?: number;
  httpPort?: number;
  /** Limits, so the comparison can provoke 413 / RESOURCE_EXHAUSTED like it does for the gateway. */
  maxRequestBodyBytes?: number;
  maxRecvMsgSizeMiB?: number;
  log?: (line: string) => void;
}

function moduleDir(): string {
  return join(projectRoot(), "conformance", "collector");
}

/** The build is keyed by the module's sources, so a changed go.mod or main.go rebuilds. */
function buildDir(): string {
  const hash = createHash("sha256");
  for (const f of ["go.mod", "go.sum", "main.go"]) hash.update(readFileSync(join(moduleDir(), f)));
  return cachePath("otelcol", hash.digest("hex").slice(0, 16));
}

function binary(): string {
  return join(buildDir(), "otelcol-sluice-peer");
}

export async function ensureCollector(log: (line: string) => void = () => {}): Promise<string> {
  await ensureCached(buildDir(), log, async () => {
    log("building the OpenTelemetry Collector peer with go build (a few minutes when cold)");
    await mustRun("go build collector", "go", ["build", "-trimpath", "-ldflags=-s -w", "-o", binary(), "."], {
      cwd: moduleDir(),
      env: process.env,
      timeoutMs: BUILD_TIMEOUT_MS,
      onLine: log,
    });
    if (!existsSync(binary())) throw new Error(`go build finished but ${binary()} is missing`);
  });
  return binary();
}

export class CollectorServer {
  private readonly dataDir: string;
  private readonly host: string;
  private readonly log: (line: string) => void;
  private readonly proc: ServiceProcess;
  private ports: { grpc: number; http: number } | undefined;

  constructor(private readonly opts: CollectorServerOptions) {
    this.dataDir = resolve(opts.dataDir);
    this.host = opts.host ?? "127.0.0.1";
    assertLoopback("CollectorServer", this.host);
    this.log = opts.log ?? (() => {});
    this.proc = new ServiceProcess("OpenTelemetry Collector", this.log);
    if (opts.grpcPort !== undefined && opts.httpPort !== undefined) {
      this.ports = { grpc: opts.grpcPort, http: opts.httpPort };
    }
  }

  /** host:port of the OTLP/gRPC receiver. */
  get grpc(): string {
    if (!this.ports) throw new Error("CollectorServer.grpc is only known after start()");
    return `${hostForUrl(this.host)}:${this.ports.grpc}`;
  }

  /** http://host:port of the OTLP/HTTP receiver. */
  get http(): string {
    if (!this.ports) throw new Error("CollectorServer.http is only known after start()");
    return `http://${hostForUrl(this.host)}:${this.ports.http}`;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  async start(): Promise<void> {
    const bin = await ensureCollector(this.log);
    if (!this.ports) {
      const [grpc, http] = await pickFreePorts(this.host, 2);
      this.ports = { grpc: grpc as number, http: http as number };
    }
    await mkdir(this.dataDir, { recursive: true });
    const config = join(this.dataDir, "otelcol.yaml");
    const h = hostForUrl(this.host);
    await writeFile(
      config,
      [
        "receivers:",
        "  otlp:",
        "    protocols:",
        "      grpc:",
        `        endpoint: ${h}:${this.ports.grpc}`,
        `        max_recv_msg_size_mib: ${this.opts.maxRecvMsgSizeMiB ?? 4}`,
        "      http:",
        `        endpoint: ${h}:${this.ports.http}`,
        `        max_request_body_size: ${this.opts.maxRequestBodyBytes ?? 20 * 1024 * 1024}`,
        "exporters:",
        "  debug:",
        "    verbosity: basic",
        "service:",
        "  telemetry:",
        "    logs: { level: warn }",
        "    metrics: { level: none }",
        "  pipelines:",
        "    logs: { receivers: [otlp], exporters: [debug] }",
        "",
      ].join("\n"),
    );
    await this.proc.spawn({
      cmd: bin,
      args: ["--config", config],
      cwd: this.dataDir,
      logFile: join(this.dataDir, "otelcol.log"),
      banner: `starting the OpenTelemetry Collector on ${this.grpc} (gRPC) and ${this.http} (HTTP)`,
    });
    await this.proc.waitReady(() => this.probe(), READY_TIMEOUT_MS, this.http);
    this.log(`OpenTelemetry Collector ready (pid ${this.pid})`);
  }

  async stop(): Promise<void> {
    await this.proc.stop(STOP_GRACE_MS);
  }

  async kill(): Promise<void> {
    await this.proc.kill();
  }

  private probe(): Promise<boolean> {
    const ports = this.ports;
    if (!ports) return Promise.resolve(false);
    const open = (port: number) =>
      new Promise<boolean>((res) => {
        const s = createConnection({ host: this.host, port }, () => {
          s.destroy();
          res(true);
        });
        s.once("error", () => res(false));
        s.setTimeout(1000, () => {
          s.destroy();
          res(false);
        });
      });
    return Promise.all([open(ports.grpc), open(ports.http)]).then((r) => r.every(Boolean));
  }
}

const USAGE = `usage:
  otelcol.js fetch
  otelcol.js start --data-dir DIR [--grpc-port P --http-port Q]`;

if (isMain(import.meta.url)) {
  cliMain((argv) =>
    runCli(
      {
        name: "OpenTelemetry Collector",
        usage: USAGE,
        fetch: (log) => ensureCollector(log),
        create: (flags, dataDir, log) =>
          new CollectorServer({
            dataDir,
            grpcPort: portFlag(flags, "grpc-port"),
            httpPort: portFlag(flags, "http-port"),
            log,
          }),
        address: (server) => `${server.grpc} ${server.http}`,
      },
      argv,
    ),
  );
}
