/**
 * The Kafka backend of the log: an idempotent producer writing with
 * acks=all, fed by a group-commit queue. An append resolves only after the
 * brokers confirmed every message in its batch.
 *
 * When Kafka fails, the backend turns unhealthy: appends are refused at once
 * (the gateway answers 503 / UNAVAILABLE), the producer drops its identity,
 * and a background loop reconnects. Reconnecting gets a new producer id, so
 * sequence numbers from before the outage never clash.
 */
import { ErrorCode, SluiceError } from "../../core/errors.js";
import { type Logger, silentLogger } from "../../core/logging/logger.js";
import { GroupCommitQueue, type PendingAppend } from "../group-commit-queue.js";
import type { LogMessage, LogWriter } from "../log.js";
import { IdempotentProducer } from "./producer/idempotent-producer.js";

export interface KafkaLogOptions {
  brokers: string[];
  clientId: string;
  /** Topics the gateway writes; created at start when createTopics is set. */
  topics: string[];
  createTopics: boolean;
  partitions: number;
  /** -1 takes the broker's default.replication.factor. */
  replicationFactor: number;
  compression: "none" | "gzip";
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
  maxBatchBytes: number;
  logger?: Logger;
  onHealthChange?: (healthy: boolean) => void;
}

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 5000;

export class KafkaLog implements LogWriter {
  private readonly queue: GroupCommitQueue;
  private readonly logger: Logger;
  private readonly producer: IdempotentProducer;
  private healthy = false;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelay = RECONNECT_MIN_MS;

  constructor(private readonly options: KafkaLogOptions) {
    this.logger = options.logger ?? silentLogger;
    this.producer = new IdempotentProducer({
      brokers: options.brokers,
      clientId: options.clientId,
      connectionTimeoutMs: options.connectionTimeoutMs,
      requestTimeoutMs: options.requestTimeoutMs,
      maxBatchBytes: options.maxBatchBytes,
      compression: options.compression,
    });
    // A connection that drops between appends may mean the broker is gone: find out now,
    // so readiness and early refusals reflect it before the next request waits on it.
    this.producer.onIdleConnectionLost = () => {
      if (this.stopped || !this.healthy) return;
      this.producer.probe().catch((err: Error) => {
        this.logger.warn({ err: err.message }, "kafka unreachable after a dropped connection");
        this.markUnhealthy();
      });
    };
    this.queue = new GroupCommitQueue((batch) => this.send(batch), options.maxBatchBytes);
  }

  async start(): Promise<void> {
    try {
      await this.connect();
    } catch (err) {
      // Start anyway: the gateway serves retryable refusals until Kafka answers.
      this.logger.warn(
        { err: (err as Error).message },
        "kafka unavailable at start; retrying in the background",
      );
      this.markUnhealthy();
    }
  }

  append(topic: string, messages: readonly LogMessage[]): Promise<void> {
    if (this.stopped) {
      return Promise.reject(
        new SluiceError(ErrorCode.SHUTTING_DOWN, "kafka log is shut down", {
          retryable: true,
          retryAfterMs: 1000,
        }),
      );
    }
    if (!this.healthy) return Promise.reject(unavailable("kafka is unavailable"));
    return this.queue.enqueue(topic, messages);
  }

  isHealthy(): boolean {
    return this.healthy;
  }

  async shutdown(): Promise<void> {
    await this.queue.drain();
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.healthy = false;
    this.producer.close();
  }

  private async connect(): Promise<void> {
    if (this.options.createTopics) await this.ensureTopics();
    await this.producer.connect(this.options.topics);
    this.setHealthy(true);
    this.reconnectDelay = RECONNECT_MIN_MS;
  }

  private async ensureTopics(): Promise<void> {
    // The general-purpose client is needed only here, so a gateway loads it only when it creates topics.
    const { Kafka, logLevel } = await import("kafkajs");
    const log = this.logger;
    const kafka = new Kafka({
      clientId: this.options.clientId,
      brokers: this.options.brokers,
      connectionTimeout: this.options.connectionTimeoutMs,
      requestTimeout: this.options.requestTimeoutMs,
      logLevel: logLevel.ERROR,
      logCreator:
        () =>
        ({ level, log: entry }) => {
          const { message, ...rest } = entry;
          if (level <= logLevel.ERROR) log.warn({ kafka: rest }, `kafka: ${message}`);
        },
      // Few, quick retries: a down broker should become a retryable refusal
      // to the client fast, not a request parked for tens of seconds.
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = this.options.topics.filter((t) => !existing.has(t));
      if (missing.length) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((topic) => ({
            topic,
            numPartitions: this.options.partitions,
            replicationFactor: this.options.replicationFactor,
          })),
        });
        this.logger.info({ topics: missing }, "created kafka topics");
      }
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  private async send(batch: PendingAppend[]): Promise<void> {
    if (!this.healthy || !this.producer.connected) throw unavailable("kafka is unavailable");
    const byTopic = new Map<string, LogMessage[]>();
    for (const p of batch) {
      const list = byTopic.get(p.topic);
      if (list) for (const m of p.messages) list.push(m);
      else byTopic.set(p.topic, [...p.messages]);
    }
    try {
      await this.producer.send(byTopic);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, "kafka append failed");
      this.markUnhealthy();
      if (err instanceof SluiceError) throw err;
      throw unavailable(`kafka append failed: ${(err as Error).message}`, err);
    }
  }

  private markUnhealthy(): void {
    if (this.stopped) return;
    const wasHealthy = this.healthy;
    this.setHealthy(false);
    this.producer.close();
    this.queue.failPending(unavailable("kafka is unavailable"));
    if (wasHealthy || this.reconnectTimer === undefined) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(async () => {
      this.reconnectTimer = undefined;
      if (this.stopped || this.healthy) return;
      try {
        await this.connect();
        this.logger.info("kafka reachable again; accepting appends");
      } catch (err) {
        this.logger.debug({ err: (err as Error).message }, "kafka still unavailable");
        this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
        this.scheduleReconnect();
      }
    }, this.reconnectDelay);
    this.reconnectTimer.unref();
  }

  private setHealthy(healthy: boolean): void {
    if (this.healthy === healthy) return;
    this.healthy = healthy;
    this.options.onHealthChange?.(healthy);
  }
}

function unavailable(message: string, cause?: unknown): SluiceError {
  return new SluiceError(ErrorCode.LOG_UNAVAILABLE, message, { retryable: true, retryAfterMs: 1000, cause });
}
