/**
 * Assembles a running sluice process from a validated config: the log
 * backend, the gateway role (receivers + ingest) and the admin endpoint.
 * `sluice start` runs every role; `sluice gateway` only the receivers.
 *
 * With gateway.workers above 1 this process becomes the cluster primary:
 * the receivers run in worker processes it supervises, each with its own
 * log writer, while the admin endpoint (merging every process's metrics
 * and readiness) and the processor role stay here.
 */

import type { PartitionLag } from "../consumer/log-source.js";
import type { SinkRunner } from "../consumer/sink-runner.js";
import { type Config, gatewayWorkers } from "../core/config/load-config.js";
import { ErrorCode, SluiceError } from "../core/errors.js";
import type { Logger } from "../core/logging/logger.js";
import { Metrics } from "../core/metrics.js";
import { AdminServer } from "../gateway/admin/admin-server.js";
import type { IngestService } from "../gateway/ingest/ingest-service.js";
import { createLog } from "../log/create-log.js";
import type { LogWriter } from "../log/log.js";
import { ClusterMetrics } from "./cluster/cluster-metrics.js";
import { WorkerSupervisor } from "./cluster/supervisor.js";
import type { ConfigSource } from "./config-source.js";
import { type Component, createIngest, startReceivers } from "./gateway-role.js";

/** gateway: the receivers; processor: the consumers that run processors and exporters. */
export type Role = "gateway" | "processor";

const LAG_INTERVAL_MS = 5000;

/** An exporter that can answer SQL (the embedded warehouse), served at /api/sql. */
interface Queryable {
  query(sql: string): Promise<{ columns: string[]; rows: unknown[][] }>;
}

export interface ServiceOptions {
  /** What gateway workers read their configuration from; needed when gateway.workers is above 1. */
  configSource?: ConfigSource;
  /**
   * This process is a gateway worker: it runs the gateway role itself,
   * whatever gateway.workers says, and leaves the admin endpoint to the primary.
   */
  clusterWorker?: boolean;
}

export interface RunningService {
  /** The log this process writes to; none in a cluster primary that runs no processor role. */
  log: LogWriter | undefined;
  metrics: Metrics;
  /** Bound addresses by receiver and protocol, e.g. { "otlp/grpc": "0.0.0.0:4317" }. */
  endpoints: Record<string, string>;
  /** Empty in a gateway worker, which serves no admin endpoint. */
  adminAddress: string;
  runners: SinkRunner[];
  /** Pids of the gateway worker processes; empty when the gateway runs in this process. */
  workerPids(): number[];
  /** Current lag of every consumer group this process runs. */
  lag(): Promise<PartitionLag[]>;
  shutdown(): Promise<void>;
}

export async function startService(
  config: Config,
  roles: Role[],
  logger: Logger,
  options: ServiceOptions = {},
): Promise<RunningService> {
  const metrics = new Metrics();
  const backend = config.log.backend;
  const workers = roles.includes("gateway") && !options.clusterWorker ? gatewayWorkers(config) : 1;
  const gatewayHere = roles.includes("gateway") && workers === 1;
  // Each worker opens its own log writer; the primary needs one only for the consumers.
  const log =
    gatewayHere || roles.includes("processor")
      ? createLog(config, logger, (healthy) => metrics.logHealthy.set({ backend }, healthy ? 1 : 0))
      : undefined;
  let supervisor: WorkerSupervisor | undefined;
  if (workers > 1) {
    if (!options.configSource) {
      throw new SluiceError(ErrorCode.INTERNAL, "gateway workers need the configuration's source to start");
    }
    supervisor = new WorkerSupervisor({ workers, config: options.configSource, logger });
  }
  const components: Component[] = [];
  let endpoints: Record<string, string> = {};
  let receiversUp = false;
  let ingest: IngestService | undefined;
  let runners: SinkRunner[] = [];
  let lagTimer: NodeJS.Timeout | undefined;

  const lag = async () => (await Promise.all(runners.map((r) => r.source.lag()))).flat();

  const stopAll = async () => {
    ingest?.close();
    clearInterval(lagTimer);
    // Last started stops first: receivers (or the workers running them) before consumers before the admin endpoint.
    for (const c of components.reverse()) {
      await c.shutdown().catch((err) => logger.error({ err }, "shutdown failed"));
    }
    await log?.shutdown();
  };

  try {
    if (log) {
      await log.start();
      metrics.logHealthy.set({ backend }, log.isHealthy() ? 1 : 0);
    }

    let adminAddress = "";
    if (!options.clusterWorker) {
      const admin = new AdminServer(
        config.admin.endpoint,
        supervisor ? new ClusterMetrics(metrics.registry, supervisor) : metrics.registry,
        [
          { name: "log", ready: () => (log?.isHealthy() ?? true) && (supervisor?.logReady() ?? true) },
          {
            name: "receivers",
            ready: () =>
              supervisor ? supervisor.receiversReady() : receiversUp || !roles.includes("gateway"),
          },
        ],
        logger.child({ component: "admin" }),
      );
      admin.route("GET", "/api/lag", async () => ({
        lag: (await lag()).map((l) => ({
          ...l,
          committed: String(l.committed),
          end: String(l.end),
          lag: String(l.lag),
        })),
      }));
      admin.route("POST", "/api/sql", async (body) => {
        const sql = (body as { sql?: unknown } | undefined)?.sql;
        const target = runners
          .map((r) => r.exporter as unknown as Partial<Queryable>)
          .find((e) => typeof e.query === "function") as Queryable | undefined;
        if (typeof sql !== "string") return { status: 400, body: { error: 'body must be {"sql": "..."}' } };
        if (!target)
          return { status: 404, body: { error: "no warehouse that answers SQL runs in this process" } };
        try {
          const r = await target.query(sql);
          return { columns: r.columns, rows: r.rows };
        } catch (err) {
          return { status: 400, body: { error: (err as Error).message } };
        }
      });
      await admin.start();
      components.push(admin);
      adminAddress = admin.boundAddress;
    }

    // The processor role always has a log: it is created whenever that role runs.
    if (roles.includes("processor") && log) {
      const deps = { logger, metrics, dataDir: config.dataDir };
      // Imported here so a gateway-only process never loads the consumers (and kafkajs).
      const { buildRunners } = await import("../consumer/build-runners.js");
      runners = buildRunners(config, log, deps);
      for (const r of runners) {
        await r.start();
        components.push(r);
      }
      const updateLag = async () => {
        for (const l of await lag().catch(() => [])) {
          metrics.consumerLag.set(
            { group: l.group, topic: l.topic, partition: String(l.partition) },
            Number(l.lag),
          );
        }
      };
      await updateLag();
      lagTimer = setInterval(() => void updateLag(), LAG_INTERVAL_MS);
      lagTimer.unref();
    }

    if (supervisor) {
      components.push(supervisor);
      await supervisor.start();
      endpoints = supervisor.endpoints;
    } else if (gatewayHere && log) {
      ingest = createIngest(config, log, metrics);
      endpoints = await startReceivers(config, ingest, metrics, logger, components);
      receiversUp = true;
    }

    const workerPids = () => supervisor?.pids ?? [];
    return { log, metrics, endpoints, adminAddress, runners, workerPids, lag, shutdown: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
