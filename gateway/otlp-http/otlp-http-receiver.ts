/**
 * OTLP/HTTP logs receiver (fastify): POST {logs_url_path} with
 * application/x-protobuf or application/json, optionally gzip or deflate
 * encoded. Answers in the request's encoding, with the status codes of the
 * OTLP/HTTP specification, only after the records are durable in the log.
 */
import { promisify } from "node:util";
import { gunzip, inflate } from "node:zlib";
import cors from "@fastify/cors";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { OtlpHttpConfig } from "../../core/config/schema.js";
import { asSluiceError, ErrorCode, SluiceError } from "../../core/errors.js";
import type { Logger } from "../../core/logging/logger.js";
import type { Metrics } from "../../core/metrics.js";
import { SourceProtocol } from "../ingest/envelope-writer.js";
import type { IngestContext, IngestService } from "../ingest/ingest-service.js";
import {
  mappingFor,
  responseJson,
  responseProtobuf,
  retryAfterSeconds,
  statusJson,
  statusProtobuf,
} from "../ingest/otlp-status.js";
import { parseEndpoint } from "../listen.js";
import { otlpJsonLogsToProtobuf } from "../otlp-json/otlp-json-to-protobuf.js";

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);

type Encoding = "protobuf" | "json";

const CONTENT_TYPES = new Map<string, Encoding>([
  ["application/x-protobuf", "protobuf"],
  ["application/protobuf", "protobuf"],
  ["application/json", "json"],
]);

export interface OtlpHttpReceiverOptions {
  name: string;
  config: OtlpHttpConfig;
  ingest: IngestService;
  metrics: Metrics;
  logger: Logger;
  tenant: string;
}

// The answer to a full success in protobuf: an empty ExportLogsServiceResponse.
const EMPTY_PROTOBUF_RESPONSE = Buffer.alloc(0);

export class OtlpHttpReceiver {
  private readonly app: FastifyInstance;
  private readonly contexts: Record<Encoding, IngestContext>;
  private address: string | undefined;

  constructor(private readonly options: OtlpHttpReceiverOptions) {
    const { config } = options;
    const context = (sourceProtocol: SourceProtocol): IngestContext => ({
      receiver: options.name,
      sourceProtocol,
      tenant: options.tenant,
    });
    this.contexts = {
      protobuf: context(SourceProtocol.OTLP_HTTP_PROTOBUF),
      json: context(SourceProtocol.OTLP_HTTP_JSON),
    };
    this.app = Fastify({
      // The compressed body is bounded here; the decompressed one in decode().
      bodyLimit: config.max_request_body_size,
      logger: false,
      return503OnClosing: true,
      forceCloseConnections: "idle",
    });
    this.routes();
  }

  /** "host:port" actually bound, after start(). */
  get boundAddress(): string {
    if (!this.address) throw new Error("receiver not started");
    return this.address;
  }

  async start(): Promise<void> {
    const { host, port } = parseEndpoint(this.options.config.endpoint);
    await this.app.listen({ host, port });
    const addr = this.app.server.address();
    this.address =
      typeof addr === "object" && addr
        ? `${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}`
        : "";
    this.options.logger.info({ endpoint: this.address }, "OTLP/HTTP receiver listening");
  }

  async shutdown(): Promise<void> {
    await this.app.close();
  }

  private routes(): void {
    const { app } = this;
    const { config, name } = this.options;

    if (config.cors.allowed_origins.length) {
      const origins = config.cors.allowed_origins;
      void app.register(cors, {
        origin: origins.includes("*") ? "*" : origins.map((o) => (o.includes("*") ? wildcard(o) : o)),
        methods: ["POST"],
        allowedHeaders: ["Content-Type", "Content-Encoding", ...config.cors.allowed_headers],
        maxAge: config.cors.max_age,
      });
    }

    app.removeAllContentTypeParsers();
    // Every content type is read as raw bytes; the route decides what it accepts,
    // so an unsupported type gets a proper OTLP Status rather than fastify's own body.
    app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

    app.addHook("onRequest", (req, _reply, done) => {
      if (req.method === "POST" && pathOf(req.url) === config.logs_url_path) {
        const length = Number(req.headers["content-length"] ?? 0);
        try {
          this.options.ingest.admit(name, Number.isFinite(length) ? length : 0);
        } catch (err) {
          done(err as Error);
          return;
        }
      }
      done();
    });

    app.post(config.logs_url_path, async (req, reply) => {
      const encoding = encodingOf(req);
      const body = await this.decode(req, encoding);
      const outcome = await this.options.ingest.ingest(body, this.contexts[encoding ?? "protobuf"]);
      if (encoding === "json") return reply.code(200).type("application/json").send(responseJson(outcome));
      const response = responseProtobuf(outcome);
      return reply
        .code(200)
        .type("application/x-protobuf")
        .send(response.length === 0 ? EMPTY_PROTOBUF_RESPONSE : Buffer.from(response));
    });

    app.route({
      method: ["GET", "PUT", "DELETE", "PATCH"],
      url: config.logs_url_path,
      handler: async (req, reply) => {
        reply.header("Allow", "POST");
        const err = new SluiceError(
          ErrorCode.UNSUPPORTED_MEDIA_TYPE,
          `method ${req.method} not allowed; use POST`,
        );
        return this.sendError(req, reply, err, 405);
      },
    });

    app.setNotFoundHandler(async (req, reply) => {
      return this.sendError(
        req,
        reply,
        new SluiceError(ErrorCode.INVALID_DATA, `no OTLP endpoint at ${req.url}`),
        404,
      );
    });

    app.setErrorHandler(async (error, req, reply) => {
      return this.sendError(req, reply, fromFastifyError(error));
    });
  }

  private async decode(req: FastifyRequest, encoding: Encoding | undefined): Promise<Uint8Array> {
    if (encoding === undefined) {
      throw new SluiceError(
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        `unsupported content type "${req.headers["content-type"] ?? ""}"; use application/x-protobuf or application/json`,
      );
    }
    let body = (req.body as Buffer | undefined) ?? Buffer.alloc(0);
    const header = req.headers["content-encoding"];
    const contentEncoding = header === undefined ? "identity" : String(header).toLowerCase().trim();
    if (contentEncoding === "gzip" || contentEncoding === "deflate") {
      try {
        const opts = { maxOutputLength: this.options.config.max_request_body_size };
        body = contentEncoding === "gzip" ? await gunzipAsync(body, opts) : await inflateAsync(body, opts);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
          throw new SluiceError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            `decompressed body exceeds max_request_body_size (${this.options.config.max_request_body_size} bytes)`,
          );
        }
        throw new SluiceError(
          ErrorCode.MALFORMED_PAYLOAD,
          `cannot decompress ${contentEncoding} body: ${(err as Error).message}`,
        );
      }
    } else if (contentEncoding !== "identity" && contentEncoding !== "") {
      throw new SluiceError(
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        `unsupported content encoding "${contentEncoding}"; use gzip, deflate or none`,
      );
    }
    if (encoding === "json") return otlpJsonLogsToProtobuf(body);
    return body;
  }

  private sendError(req: FastifyRequest, reply: FastifyReply, err: SluiceError, statusOverride?: number) {
    const { http } = mappingFor(err);
    if (err.code === ErrorCode.INTERNAL) this.options.logger.error({ err }, "OTLP/HTTP request failed");
    if (!err.retryable && err.code !== ErrorCode.INTERNAL) {
      this.options.metrics.refusedRequests.inc({ receiver: this.options.name, reason: reasonLabel(err) });
    }
    const retryAfter = retryAfterSeconds(err);
    if (retryAfter !== undefined) reply.header("Retry-After", String(retryAfter));
    reply.code(statusOverride ?? http);
    if (encodingOf(req) === "protobuf") {
      return reply.type("application/x-protobuf").send(Buffer.from(statusProtobuf(err)));
    }
    return reply.type("application/json").send(statusJson(err));
  }
}

function encodingOf(req: FastifyRequest): Encoding | undefined {
  const header = req.headers["content-type"];
  // The common case, a bare media type, is looked up as it is.
  const exact = typeof header === "string" ? CONTENT_TYPES.get(header) : undefined;
  if (exact !== undefined) return exact;
  const type = String(header ?? "")
    .split(";")[0]
    ?.trim()
    .toLowerCase();
  return type ? CONTENT_TYPES.get(type) : undefined;
}

function pathOf(url: string): string {
  const query = url.indexOf("?");
  return query < 0 ? url : url.slice(0, query);
}

function reasonLabel(err: SluiceError): string {
  return err.code.toLowerCase();
}

/** Maps fastify's own errors (body too large, aborted) into the project's codes. */
function fromFastifyError(error: unknown): SluiceError {
  if (error instanceof SluiceError) return error;
  const e = error as { code?: string; statusCode?: number; message?: string };
  if (e.code === "FST_ERR_CTP_BODY_TOO_LARGE" || e.statusCode === 413) {
    return new SluiceError(
      ErrorCode.PAYLOAD_TOO_LARGE,
      `request body exceeds max_request_body_size: ${e.message}`,
    );
  }
  if (e.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" || e.statusCode === 415) {
    return new SluiceError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, e.message ?? "unsupported media type");
  }
  if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500) {
    return new SluiceError(ErrorCode.MALFORMED_PAYLOAD, e.message ?? "bad request");
  }
  return asSluiceError(error);
}

function wildcard(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*");
  return new RegExp(`^${escaped}$`);
}
