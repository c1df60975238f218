/**
 * The configuration file's schema: the OpenTelemetry Collector's shape
 * (receivers, processors, exporters, pipelines) plus the log the gateway
 * writes to, the gateway's limits and the admin endpoint. Everything has a
 * default that uses only embedded parts, so an empty file is a valid config.
 */
import { z } from "zod";
import { durationMs, sizeBytes } from "./zod-units.js";

const duration = durationMs;
const size = sizeBytes;

const endpoint = z
  .string()
  .regex(
    /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]*):\d{1,5}$/,
    "expected host:port, e.g. 0.0.0.0:4318 or [::1]:4318",
  );

const cors = z
  .strictObject({
    allowed_origins: z.array(z.string()).default([]),
    allowed_headers: z.array(z.string()).default([]),
    max_age: z.number().int().nonnegative().default(7200),
  })
  .prefault({});

const grpcProtocol = z.strictObject({
  endpoint: endpoint.default("0.0.0.0:4317"),
  max_recv_msg_size_mib: z.number().positive().default(4),
});

const httpProtocol = z.strictObject({
  endpoint: endpoint.default("0.0.0.0:4318"),
  logs_url_path: z.string().startsWith("/").default("/v1/logs"),
  max_request_body_size: size("max_request_body_size").default(20 * 1024 * 1024),
  cors,
});

const otlpReceiver = z
  .strictObject({
    protocols: z
      .strictObject({
        grpc: grpcProtocol.nullable().optional(),
        http: httpProtocol.nullable().optional(),
      })
      .prefault({ grpc: {}, http: {} }),
  })
  .prefault({});

export type OtlpReceiverConfig = z.output<typeof otlpReceiver>;
export type OtlpGrpcConfig = z.output<typeof grpcProtocol>;
export type OtlpHttpConfig = z.output<typeof httpProtocol>;

const keyList = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .transform((v) => (typeof v === "string" ? [v] : v));

const forwardReceiver = z
  .strictObject({
    endpoint: endpoint.default("0.0.0.0:24224"),
    tls: z
      .strictObject({ cert_file: z.string().min(1), key_file: z.string().min(1) })
      .nullable()
      .optional(),
    security: z
      .strictObject({
        shared_key: z.string().min(1),
        self_hostname: z.string().min(1).optional(),
        users: z
          .array(z.strictObject({ username: z.string().min(1), password: z.string().min(1) }))
          .default([]),
      })
      .nullable()
      .optional(),
    max_message_size: size("max_message_size").default(16 * 1024 * 1024),
    max_decompressed_size: size("max_decompressed_size").default(64 * 1024 * 1024),
    max_connections: z.number().int().min(1).default(1024),
    udp_heartbeat: z.boolean().default(true),
    service_name_key: keyList.default(["service.name", "service"]),
    service_name_from_tag: z
      .union([
        z.boolean(),
        z.string().refine(
          (s) => {
            try {
              new RegExp(s);
              return true;
            } catch {
              return false;
            }
          },
          { message: "expected true, false or a valid regular expression" },
        ),
      ])
      .default(false),
    body_key: keyList.default(["log", "message"]),
    severity_key: keyList.default(["level", "severity"]),
    keep_metadata: z.boolean().default(true),
  })
  .prefault({});

export type ForwardReceiverConfig = z.output<typeof forwardReceiver>;

/** Receiver types by the name their config key starts with ("otlp", "otlp/internal"). */
export const receiverSchemas = { otlp: otlpReceiver, forward: forwardReceiver } as const;
export type ReceiverType = keyof typeof receiverSchemas;

const pipeline = z.strictObject({
  receivers: z.array(z.string()).min(1, "a pipeline needs at least one receiver"),
  processors: z.array(z.string()).default([]),
  exporters: z.array(z.string()).default([]),
});

const topics = z
  .strictObject({
    logs: z.string().min(1).default("sluice.logs"),
    events: z.string().min(1).default("sluice.events"),
    dead_letter: z.string().min(1).default("sluice.dead-letter"),
  })
  .prefault({});

const keyRule = z
  .strictObject({
    from: z.enum(["resource", "record"]).default("resource"),
    attribute: z.string().min(1).default("service.name"),
  })
  .prefault({});

const embeddedLog = z
  .strictObject({
    path: z.string().optional(),
    partitions: z.number().int().min(1).max(1024).default(8),
    retention: z
      .strictObject({
        max_age: duration("max_age").nullable().prefault("168h"),
        max_bytes: size("max_bytes").nullable().prefault("10GiB"),
        check_interval: duration("check_interval").prefault("1m"),
      })
      .prefault({}),
  })
  .prefault({});

const kafkaLog = z
  .strictObject({
    brokers: z.array(z.string().min(1)).min(1).default(["localhost:9092"]),
    client_id: z.string().default("sluice"),
    create_topics: z.boolean().default(true),
    partitions: z.number().int().min(1).default(8),
    replication_factor: z.number().int().min(-1).default(-1),
    compression: z.enum(["none", "gzip"]).default("none"),
    connection_timeout: duration("connection_timeout").prefault("3s"),
    request_timeout: duration("request_timeout").prefault("30s"),
    // Kafka refuses a partition's record batch over the broker's message.max.bytes (1 MiB by
    // default); keeping each produce under it means one batch never fails as a whole for size.
    max_batch_bytes: size("max_batch_bytes").prefault("900KiB"),
  })
  .prefault({});

const log = z
  .strictObject({
    backend: z.enum(["embedded", "kafka"]).default("embedded"),
    topics,
    key: keyRule,
    embedded: embeddedLog,
    kafka: kafkaLog,
  })
  .prefault({});

const workersError = 'expected a whole number of at least 1, or "auto"';

const gateway = z
  .strictObject({
    // Each worker is a process with its own event loop and log writer; "auto" is resolved at start-up
    // (see gatewayWorkers), because it depends on the machine and on the log backend.
    workers: z
      .union([z.number().int({ error: workersError }).min(1, { error: workersError }), z.literal("auto")], {
        error: workersError,
      })
      .default(1),
    max_inflight_bytes: size("max_inflight_bytes").prefault("64MiB"),
    append_timeout: duration("append_timeout").prefault("10s"),
    retry_after: duration("retry_after").prefault("1s"),
    tenant: z.string().default(""),
  })
  .prefault({});

const admin = z
  .strictObject({
    endpoint: endpoint.default("0.0.0.0:8888"),
  })
  .prefault({});

const telemetry = z
  .strictObject({
    log_level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  })
  .prefault({});

export const configSchema = z.strictObject({
  data_dir: z.string().default("./data"),
  receivers: z.record(z.string(), z.unknown()).default({ otlp: {} }),
  processors: z.record(z.string(), z.unknown()).default({}),
  exporters: z.record(z.string(), z.unknown()).default({}),
  pipelines: z.record(z.string(), pipeline).prefault({ logs: { receivers: ["otlp"] } }),
  log,
  gateway,
  admin,
  telemetry,
});

export type RawConfig = z.output<typeof configSchema>;
export type LogConfig = RawConfig["log"];
export type GatewayConfig = RawConfig["gateway"];
