/**
 * The gateway role in one process: the shared ingest path over a log
 * writer, and every active receiver in front of it. A cluster worker runs
 * exactly this; so does a single-process gateway.
 */
import type { Config } from "../core/config/load-config.js";
import type { Logger } from "../core/logging/logger.js";
import type { Metrics } from "../core/metrics.js";
import { ForwardReceiver } from "../gateway/forward/forward-receiver.js";
import { InflightLimiter } from "../gateway/ingest/inflight-limiter.js";
import { IngestService } from "../gateway/ingest/ingest-service.js";
import { OtlpGrpcReceiver } from "../gateway/otlp-grpc/otlp-grpc-receiver.js";
import { OtlpHttpReceiver } from "../gateway/otlp-http/otlp-http-receiver.js";
import type { LogWriter } from "../log/log.js";

export interface Component {
  shutdown(): Promise<void>;
}

export function createIngest(config: Config, log: LogWriter, metrics: Metrics): IngestService {
  const backend = config.log.backend;
  const limiter = new InflightLimiter(config.gateway.max_inflight_bytes, (used) =>
    metrics.inflightBytes.set(used),
  );
  return new IngestService(log, limiter, metrics, {
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
}

/**
 * Starts every active receiver. Each one is pushed to `components` as soon
 * as it listens, so a failure half-way leaves the caller able to stop the
 * ones already started. Returns the bound address of each, by
 * "<receiver>/<protocol>".
 */
export async function startReceivers(
  config: Config,
  ingest: IngestService,
  metrics: Metrics,
  logger: Logger,
  components: Component[],
): Promise<Record<string, string>> {
  const endpoints: Record<string, string> = {};
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
  return endpoints;
}
