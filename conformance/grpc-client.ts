/**
 * A LogsService/Export client that sends and receives raw bytes, so the
 * suite can send deliberately broken messages and read the exact answer.
 */
import {
  credentials,
  Metadata,
  makeGenericClientConstructor,
  type ServiceDefinition,
  type ServiceError,
} from "@grpc/grpc-js";

const passThrough = (b: Buffer): Buffer => b;

const logsService: ServiceDefinition = {
  Export: {
    path: "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    requestStream: false,
    responseStream: false,
    requestSerialize: passThrough,
    requestDeserialize: passThrough,
    responseSerialize: passThrough,
    responseDeserialize: passThrough,
  },
};

const LogsClient = makeGenericClientConstructor(logsService, "LogsService");

export interface GrpcAnswer {
  code: number;
  details: string;
  response?: Uint8Array;
  /** Trailers of a failed call (grpc-status-details-bin lives here). */
  metadata?: Metadata;
}

type ExportFn = (
  request: Buffer,
  metadata: Metadata,
  options: { deadline: number },
  callback: (err: ServiceError | null, response?: Buffer) => void,
) => void;

export interface GrpcClient {
  export(bytes: Uint8Array): Promise<GrpcAnswer>;
  close(): void;
}

export function grpcClient(address: string, opts: { gzip?: boolean; timeoutMs: number }): GrpcClient {
  const client = new LogsClient(address, credentials.createInsecure(), {
    // The oversize check must reach the server's limit rather than stop at the client's own.
    "grpc.max_send_message_length": 256 * 1024 * 1024,
    "grpc.max_receive_message_length": 16 * 1024 * 1024,
    ...(opts.gzip ? { "grpc.default_compression_algorithm": 2 } : {}),
  });
  const call = (client as unknown as { Export: ExportFn }).Export.bind(client);
  return {
    export(bytes) {
      return new Promise((resolve) => {
        call(
          Buffer.from(bytes),
          new Metadata(),
          { deadline: Date.now() + opts.timeoutMs },
          (err, response) => {
            if (err) resolve({ code: err.code, details: err.details, metadata: err.metadata });
            else resolve({ code: 0, details: "", response: response ? new Uint8Array(response) : undefined });
          },
        );
      });
    },
    close: () => client.close(),
  };
}

/** The first grpc-status-details-bin value, if the call carried one. */
export function statusDetailsBin(answer: GrpcAnswer): Uint8Array | undefined {
  const value = answer.metadata?.get("grpc-status-details-bin")[0];
  return value instanceof Buffer ? new Uint8Array(value) : undefined;
}
