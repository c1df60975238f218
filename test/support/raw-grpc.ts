/** A raw gRPC client for LogsService/Export that sends exactly the bytes given. */
import { credentials, type Metadata, makeGenericClientConstructor, type ServiceError } from "@grpc/grpc-js";
import { rawLogsServiceDefinition } from "../../gateway/otlp-grpc/otlp-grpc-receiver.js";

const RawClient = makeGenericClientConstructor(rawLogsServiceDefinition, "LogsService");

export interface RawGrpcResult {
  code: number;
  details: string;
  response?: Buffer;
  trailers?: Metadata;
}

export function rawGrpcClient(address: string, options: Record<string, unknown> = {}) {
  const client = new RawClient(address, credentials.createInsecure(), {
    "grpc.max_send_message_length": 64 * 1024 * 1024,
    ...options,
  });
  return {
    export(bytes: Uint8Array): Promise<RawGrpcResult> {
      return new Promise((resolve) => {
        (
          client as unknown as {
            Export: (b: Buffer, cb: (e: ServiceError | null, r?: Buffer) => void) => void;
          }
        ).Export(Buffer.from(bytes), (err, response) => {
          if (err) resolve({ code: err.code, details: err.details, trailers: err.metadata });
          else resolve({ code: 0, details: "", response });
        });
      });
    },
    close: () => client.close(),
  };
}
