/**
 * OTLP/gRPC logs receiver (@grpc/grpc-js): LogsService/Export. The request
 * message arrives as raw bytes (no deserialization) and goes to the shared
 * ingest path, which walks it on the wire. grpc-js itself decompresses gzip
 * requests and refuses messages over max_recv_msg_size_mib with
 * RESOURCE_EXHAUSTED (without RetryInfo, so clients don't retry them).
 */
import {
  Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
} from "@grpc/grpc-js";
import type { OtlpGrpcConfig } from "../../core/config/schema.js";
import { asSluiceError, ErrorCode } from "../../core/errors.js";
import type { Logger } from "../../core/logging/logger.js";
import { SourceProtocol } from "../ingest/envelope-writer.js";
import type { IngestService } from "../ingest/ingest-service.js";
import { mappingFor, responseProtobuf, statusProtobuf } from "../ingest/otlp-status.js";
import { parseEndpoint } from "../listen.js";

const identity = (b: Buffer): Buffer => b;

/** The service with pass-through (de)serializers: the gateway works on the wire bytes. */
export const rawLogsServiceDefinition: ServiceDefinition = {
  Export: {
    path: "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
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
  private readonly server: Server;
  private port = 0;

  constructor(private readonly options: OtlpGrpcReceiverOptions) {
    const maxBytes = Math.floor(options.config.max_recv_msg_size_mib * 1024 * 1024);
    this.server = new Server({
      "grpc.max_receive_message_length": maxBytes,
      "grpc.max_send_message_length": 4 * 1024 * 1024,
      // Keep idle clients from pinning sockets forever, and let busy ones ping.
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.http2.min_ping_interval_without_data_ms": 10_000,
    });
    this.server.addService(rawLogsServiceDefinition, {
      Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        this.export(call.request, callback);
      },
    });
  }

  get boundAddress(): string {
    const { host } = parseEndpoint(this.options.config.endpoint);
    return `${host.includes(":") ? `[${host}]` : host}:${this.port}`;
  }

  start(): Promise<void> {
    const { host, port } = parseEndpoint(this.options.config.endpoint);
    const bindHost = host.includes(":") ? `[${host}]` : host;
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`${bindHost}:${port}`, ServerCredentials.createInsecure(), (err, bound) => {
        if (err) return reject(err);
        this.port = bound;
        this.options.logger.info({ endpoint: this.boundAddress }, "OTLP/gRPC receiver listening");
        resolve();
      });
    });
  }

  shutdown(): Promise<void> {
    return new Promise((resolve) => {
      const force = setTimeout(() => this.server.forceShutdown(), 10_000);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  private export(request: Buffer, callback: sendUnaryData<Buffer>): void {
    this.options.ingest
      .ingest(request, {
        receiver: this.options.name,
        sourceProtocol: SourceProtocol.OTLP_GRPC,
        tenant: this.options.tenant,
      })
      .then(
        (outcome) => callback(null, Buffer.from(responseProtobuf(outcome))),
        (error: unknown) => {
          const err = asSluiceError(error);
          if (err.code === ErrorCode.INTERNAL) this.options.logger.error({ err }, "OTLP/gRPC export failed");
          const metadata = new Metadata();
          // Rich status: RetryInfo here is what makes RESOURCE_EXHAUSTED retryable for OTLP clients.
          metadata.set("grpc-status-details-bin", Buffer.from(statusProtobuf(err)));
          callback({ code: mappingFor(err).grpc, details: err.message, metadata });
        },
      );
  }
}
