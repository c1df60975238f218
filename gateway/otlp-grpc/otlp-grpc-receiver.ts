/**
 * OTLP/gRPC logs receiver: LogsService/Export. The request message arrives
 * as raw bytes (no deserialization) and goes to the shared ingest path,
 * which walks it on the wire. The server (unary-server.ts) decompresses
 * gzip and deflate requests and refuses messages over max_recv_msg_size_mib
 * with RESOURCE_EXHAUSTED (without RetryInfo, so clients don't retry them).
 */
import type { ServiceDefinition } from "@grpc/grpc-js";
import type { OtlpGrpcConfig } from "../../core/config/schema.js";
import { asSluiceError, ErrorCode } from "../../core/errors.js";
import type { Logger } from "../../core/logging/logger.js";
import { SourceProtocol } from "../ingest/envelope-writer.js";
import type { IngestContext, IngestService } from "../ingest/ingest-service.js";
import { mappingFor, responseProtobuf, statusProtobuf } from "../ingest/otlp-status.js";
import { parseEndpoint } from "../listen.js";
import { type GrpcStatusAnswer, UnaryGrpcServer } from "./unary-server.js";

const EXPORT_PATH = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

const identity = (b: Buffer): Buffer => b;

/** LogsService with pass-through (de)serializers, for @grpc/grpc-js clients that send raw bytes. */
export const rawLogsServiceDefinition: ServiceDefinition = {
  Export: {
    path: EXPORT_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

export interface OtlpGrpcReceiverOptions {
  name: string;
  config: OtlpGrpcConfig;
  ingest: IngestService;
  logger: Logger;
  tenant: string;
}

export class OtlpGrpcReceiver {
  private readonly server: UnaryGrpcServer;
  private readonly context: IngestContext;
  private port = 0;

  constructor(private readonly options: OtlpGrpcReceiverOptions) {
    this.server = new UnaryGrpcServer({
      maxReceiveMessageBytes: Math.floor(options.config.max_recv_msg_size_mib * 1024 * 1024),
      onError: (err) => options.logger.warn({ err }, "OTLP/gRPC listener error"),
    });
    this.context = {
      receiver: options.name,
      sourceProtocol: SourceProtocol.OTLP_GRPC,
      tenant: options.tenant,
    };
    this.server.register(EXPORT_PATH, (request) => this.export(request));
  }

  get boundAddress(): string {
    const { host } = parseEndpoint(this.options.config.endpoint);
    return `${host.includes(":") ? `[${host}]` : host}:${this.port}`;
  }

  async start(): Promise<void> {
    const { host, port } = parseEndpoint(this.options.config.endpoint);
    this.port = await this.server.listen(host, port);
    this.options.logger.info({ endpoint: this.boundAddress }, "OTLP/gRPC receiver listening");
  }

  shutdown(): Promise<void> {
    const force = setTimeout(() => this.server.forceShutdown(), 10_000);
    return this.server.shutdown().finally(() => clearTimeout(force));
  }

  private export(request: Buffer): Promise<Uint8Array> {
    return this.options.ingest.ingest(request, this.context).then(responseProtobuf, (error: unknown) => {
      const err = asSluiceError(error);
      if (err.code === ErrorCode.INTERNAL) this.options.logger.error({ err }, "OTLP/gRPC export failed");
      const status: GrpcStatusAnswer = {
        code: mappingFor(err).grpc,
        details: err.message,
        // Rich status: RetryInfo here is what makes RESOURCE_EXHAUSTED retryable for OTLP clients.
        trailers: { "grpc-status-details-bin": statusProtobuf(err) },
      };
      throw status;
    });
  }
}
