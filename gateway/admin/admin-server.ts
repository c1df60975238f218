/**
 * Admin endpoint: /healthz (the process is alive), /readyz (receivers are
 * listening and the log takes appends; load balancers stop sending traffic
 * otherwise) and Prometheus /metrics.
 */
import Fastify, { type FastifyInstance } from "fastify";
import type { Logger } from "../../core/logging/logger.js";
import { parseEndpoint } from "../listen.js";

export interface ReadinessCheck {
  name: string;
  ready: () => boolean;
}

/** What /metrics serves: a prom-client registry, or the merged registries of several processes. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export class AdminServer {
  private readonly app: FastifyInstance;
  private address = "";

  constructor(
    private readonly endpoint: string,
    metrics: MetricsSource,
    private readonly checks: ReadinessCheck[],
    private readonly logger: Logger,
  ) {
    this.app = Fastify({ logger: false });
    this.app.get("/healthz", async () => ({ status: "ok" }));
    this.app.get("/readyz", async (_req, reply) => {
      const failing = this.checks.filter((c) => !c.ready()).map((c) => c.name);
      reply.code(failing.length ? 503 : 200);
      return failing.length ? { status: "not ready", failing } : { status: "ready" };
    });
    this.app.get("/metrics", async (_req, reply) => {
      reply.type(metrics.contentType);
      return metrics.metrics();
    });
  }

  /**
   * Adds an API route. The handler returns a JSON body, or { status, body }
   * to answer with another status.
   */
  route(method: "GET" | "POST", url: string, handler: (body: unknown) => Promise<unknown>): void {
    this.app.route({
      method,
      url,
      handler: async (req, reply) => {
        const out = (await handler(req.body)) as { status?: number; body?: unknown };
        if (out && typeof out === "object" && typeof out.status === "number") {
          reply.code(out.status);
          return out.body;
        }
        return out;
      },
    });
  }

  get boundAddress(): string {
    return this.address;
  }

  async start(): Promise<void> {
    const { host, port } = parseEndpoint(this.endpoint);
    await this.app.listen({ host, port });
    const addr = this.app.server.address();
    this.address = typeof addr === "object" && addr ? `${addr.address}:${addr.port}` : "";
    this.logger.info({ endpoint: this.address }, "admin endpoint listening");
  }

  async shutdown(): Promise<void> {
    await this.app.close();
  }
}
