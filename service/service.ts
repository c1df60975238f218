/**
 * Assembles a running sluice process from a validated config: the log
 * backend, the gateway role (receivers + ingest) and the admin endpoint.
 * `sluice start` runs every role; `sluice gateway` only the receivers.
 */

import { buildRunners } from "../consumer/build-runners.js";
import type { PartitionLag } from "../consumer/log-source.js";
import type { SinkRunner } from "../consumer/sink-runner.js";
import type { Config } from "../core/config/load-config.js";
import type { Logger } from "../core/logging/logger.js";
import { Metrics } from "../core/metrics.js";
import { AdminServer } from "../gateway/admin/admin-server.js";
import { ForwardReceiver } from "../gateway/forward/forward-receiver.js";
import { InflightLimiter } from "../gateway/ingest/inflight-limiter.js";
import { IngestService } from "../gateway/ingest/ingest-service.js";
import { OtlpGrpcReceiver } from "../gateway/otlp-grpc/otlp-grpc-receiver.js";
import { OtlpHttpReceiver } from "../gateway/otlp-http/otlp-http-receiver.js";
import { createLog } from "../log/create-log.js";
import type { LogWriter } from "../log/log.js";

/** gateway: the receivers; processor: the consumers that run processors and exporters. */
export type Role = "gateway" | "processor";

const LAG_INTERVAL_MS = 5000;

/** An exporter that can answer SQL (the embedded warehouse), served at /api/sql. */
interface Queryable {
  query(sql: string): Promise<{ columns: string[]; rows: unknown[][] }>;
}

export interface RunningService {
  log: LogWriter;
  metrics: Metrics;
  /** Bound addresses by receiver and protocol, e.g. { "otlp/grpc": "0.0.0.0:4317" }. */
  endpoints: Record<string, string>;
  adminAddress: string;
  runners: SinkRunner[];
  /** Current lag of every consumer group this process runs. */
  lag(): Promise<PartitionLag[]>;
  shutdown(): Promise<void>;
}

interface Component {
  shutdown(): Promise<void>;
}

export async function startService(config: Config, roles: Role[], logger: Logger): Promise<RunningService> {
  const metrics = new Metrics();
  const backend = config.log.backend;
  const log = createLog(config, logger, (healthy) => metrics.logHealthy.set({ backend }, healthy ? 1 : 0));
  const components: Component[] = [];
  const endpoints: Record<string, string> = {};
  let receiversUp = false;
  let ingest: IngestService | undefined;
  let runners: SinkRunner[] = [];
  let lagTimer: NodeJS.Timeout | undefined;

  const lag = async () => (await Promise.all(runners.map((r) => r.source.lag()))).flat();

  const stopAll = async () => {
    ingest?.close();
    clearInterval(lagTimer);
    // Last started stops first: receivers before consumers before the admin endpoint.
    for (const c of components.reverse()) {
      await c.shutdown().catch((err) => logger.error({ err }, "shutdown failed"));
    }
    await log.shutdown();
  };

  try {
    await log.start();
    metrics.logHealthy.set({ backend }, log.isHealthy() ? 1 : 0);

    const admin = new AdminServer(
      config.admin.endpoint,
      metrics,
      [
        { name: "log", ready: () => log.isHealthy() },
        { name: "receivers", ready: () => receiversUp || !roles.includes("gateway") },
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

    if (roles.includes("processor")) {
      const deps = { logger, metrics, dataDir: config.dataDir };
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

    if (roles.includes("gateway")) {
      const limiter = new InflightLimiter(config.gateway.max_inflight_bytes, (used) =>
        metrics.inflightBytes.set(used),
      );
      ingest = new IngestService(log, limiter, metrics, {
        topics: {
          logs: config.log.topics.logs,
          events: config.log.topics.events,
          deadLetter: config.log.topics.dead_letter,
        },
        key: { from: config.log.key.from, attribute: Buffer.from(config.log.key.attribute, "utf8") },
        appendTimeoutMs: config.gateway.append_timeout,
        retryAfterMs: config.gateway.retry_after,
        backend,
        maxEnvelopeBytes: backend === "kafka" ? config.log.kafka.max_batch_bytes : undefined,
      });
      for (const receiver of config.activeReceivers) {
        if (receiver.type === "forward") {
          const r = new ForwardReceiver({
            name: receiver.name,
            config: receiver.config,
            ingest,
            metrics,
            tenant: config.gateway.tenant,
            logger: logger.child({ receiver: receiver.name }),
          });
          await r.start();
          components.push(r);
          endpoints[`${receiver.name}/tcp`] = r.boundAddress;
          continue;
        }
        const { grpc, http } = receiver.config.protocols;
        const common = { name: receiver.name, ingest, tenant: config.gateway.tenant };
        if (grpc) {
          const r = new OtlpGrpcReceiver({
            ...common,
            config: grpc,
            logger: logger.child({ receiver: receiver.name }),
          });
          await r.start();
          components.push(r);
          endpoints[`${receiver.name}/grpc`] = r.boundAddress;
        }
        if (http) {
          const r = new OtlpHttpReceiver({
            ...common,
            config: http,
            metrics,
            logger: logger.child({ receiver: receiver.name }),
          });
          await r.start();
          components.push(r);
          endpoints[`${receiver.name}/http`] = r.boundAddress;
        }
      }
      receiversUp = true;
    }

    return { log, metrics, endpoints, adminAddress: admin.boundAddress, runners, lag, shutdown: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
