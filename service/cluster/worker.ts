/**
 * A gateway worker's side of the cluster: asks the primary for the
 * configuration, runs the gateway role (receivers, ingest, its own log
 * writer) with no admin endpoint, and keeps the primary informed: when it
 * listens, whether its log takes appends, and its metrics on request.
 *
 * It drains on the primary's request or on its own SIGTERM/SIGINT (a
 * terminal's Ctrl-C or systemd signal the whole process group). When the
 * primary dies, node:cluster ends the worker at once on the closed IPC
 * channel: its clients see their connections drop and retry, and nothing
 * it acknowledged is lost, because acknowledgements follow durable appends.
 */
import cluster from "node:cluster";
import { isSluiceError } from "../../core/errors.js";
import { createLogger, type Logger } from "../../core/logging/logger.js";
import { type ConfigSource, configFromSource } from "../config-source.js";
import { type RunningService, startService } from "../service.js";
import { type FromWorker, isToWorker, type WorkerStatus } from "./messages.js";

/** How often the worker looks at its log's health to report a change; /readyz lags it by at most this. */
const STATUS_INTERVAL_MS = 250;
/** How long a failing worker waits for its last message to reach the primary before exiting. */
const LAST_WORDS_MS = 1_000;

export async function runGatewayWorker(): Promise<void> {
  if (!cluster.isWorker) throw new Error("the gateway worker runs only when forked by a sluice primary");
  let logger: Logger = createLogger("info");
  let service: RunningService | undefined;
  let starting: Promise<void> | undefined;
  let stopping = false;
  let statusTimer: NodeJS.Timeout | undefined;

  const send = (message: FromWorker): Promise<void> =>
    new Promise((resolve) => {
      if (!process.connected || !process.send) return resolve();
      // The callback also takes a failed send, so a closing channel never becomes an 'error' event.
      process.send(message, undefined, {}, () => resolve());
    });

  const status = (): WorkerStatus => ({
    log: service?.log?.isHealthy() ?? false,
    receivers: service !== undefined && !stopping,
  });

  const start = async (index: number, source: ConfigSource): Promise<void> => {
    try {
      const config = configFromSource(source);
      logger = createLogger(config.telemetry.log_level).child({ worker: index });
      process.on("unhandledRejection", (err) => logger.error({ err }, "unhandled rejection"));
      service = await startService(config, ["gateway"], logger, { clusterWorker: true });
      // Told to stop while starting: stop() drains what just started, and nothing is to be reported.
      if (stopping) return;
      await send({ type: "sluice:started", endpoints: service.endpoints, status: status() });
      let last = JSON.stringify(status());
      statusTimer = setInterval(() => {
        const now = status();
        if (JSON.stringify(now) === last) return;
        last = JSON.stringify(now);
        void send({ type: "sluice:status", status: now });
      }, STATUS_INTERVAL_MS);
      statusTimer.unref();
    } catch (err) {
      logger.error({ err }, "gateway worker failed to start");
      const message = (err as Error).message ?? String(err);
      await Promise.race([
        send({ type: "sluice:failed", message, code: isSluiceError(err) ? err.code : undefined }),
        new Promise((r) => setTimeout(r, LAST_WORDS_MS)),
      ]);
      process.exit(1);
    }
  };

  const stop = async (reason: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    clearInterval(statusTimer);
    await send({ type: "sluice:status", status: status() });
    await starting;
    logger.info({ reason }, "gateway worker draining");
    try {
      await service?.shutdown();
    } catch (err) {
      logger.error({ err }, "gateway worker shutdown failed");
      process.exit(1);
    }
    process.exit(0);
  };

  process.on("message", (message: unknown) => {
    if (!isToWorker(message)) return;
    switch (message.type) {
      case "sluice:start":
        if (!starting && !stopping) starting = start(message.index, message.config);
        return;
      case "sluice:metrics":
        service?.metrics.registry.getMetricsAsJSON().then(
          (metrics) => send({ type: "sluice:metrics", id: message.id, metrics }),
          (err) => logger.warn({ err }, "cannot read this worker's metrics"),
        );
        return;
      case "sluice:shutdown":
        void stop("asked by the primary");
        return;
    }
  });
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  await send({ type: "sluice:hello" });
}
