/**
 * Fluentd Forward protocol (v1) receiver: msgpack frames over TCP (or TLS)
 * from Fluent Bit, Fluentd and the Fluent client libraries, plus the UDP
 * heartbeat on the same port. Records are handed to the shared ingest path
 * as OTLP, and a chunk is acknowledged only once its records are durable.
 *
 * Per connection, frames are processed in arrival order: whatever arrived
 * while the previous batch was being appended goes into the next single
 * ingest call, and the socket is paused while more than max_message_size
 * bytes wait, so one connection holds a bounded amount of memory.
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { createServer as createNetServer, type Server, type Socket } from "node:net";
import { hostname } from "node:os";
import { createServer as createTlsServer } from "node:tls";
import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import { encode } from "@msgpack/msgpack";
import type { ForwardReceiverConfig } from "../../core/config/schema.js";
import { asSluiceError } from "../../core/errors.js";
import type { Logger } from "../../core/logging/logger.js";
import type { Metrics } from "../../core/metrics.js";
import { SourceProtocol } from "../ingest/envelope-writer.js";
import type { IngestService } from "../ingest/ingest-service.js";
import { parseEndpoint } from "../listen.js";
import {
  buildExportRequest,
  classifyFrame,
  type EventFrame,
  type ForwardEntry,
  InvalidFrameError,
  type MappingOptions,
  parseEntry,
  type TaggedEntries,
} from "./forward-mapping.js";
import { Handshake } from "./handshake.js";
import { type ForwardMetrics, forwardMetrics } from "./metrics.js";
import { createDecoder, decodeAll, FrameError, FrameSplitter } from "./msgpack-frames.js";

const gunzipAsync = promisify(gunzip);

/** A client that connects and never completes the handshake is let go after this long. */
const HANDSHAKE_TIMEOUT_MS = 30_000;
/** How long shutdown waits for in-flight batches before closing their connections. */
const SHUTDOWN_GRACE_MS = 5_000;

export interface ForwardReceiverOptions {
  name: string;
  config: ForwardReceiverConfig;
  ingest: IngestService;
  metrics: Metrics;
  logger: Logger;
  tenant: string;
}

interface QueuedFrame {
  frame: EventFrame;
  bytes: number;
  observedUnixNano: bigint;
}

const nowUnixNano = (): bigint => BigInt(Date.now()) * 1_000_000n;

export class ForwardReceiver {
  private readonly server: Server;
  private udp: UdpSocket | undefined;
  private address: string | undefined;
  private readonly connections = new Set<Connection>();
  readonly metrics: ForwardMetrics;
  readonly mapping: MappingOptions;
  readonly selfHostname: string;

  constructor(readonly options: ForwardReceiverOptions) {
    const { config } = options;
    this.metrics = forwardMetrics(options.metrics.registry);
    const fromTag = config.service_name_from_tag;
    this.mapping = {
      serviceNameKeys: config.service_name_key,
      serviceNameFromTag: typeof fromTag === "string" ? new RegExp(fromTag) : fromTag,
      bodyKeys: config.body_key,
      severityKeys: config.severity_key,
      keepMetadata: config.keep_metadata,
    };
    this.selfHostname = config.security?.self_hostname ?? hostname();
    const onConnection = (socket: Socket) => this.accept(socket);
    this.server = config.tls
      ? createTlsServer(
          {
            cert: readFileSync(config.tls.cert_file),
            key: readFileSync(config.tls.key_file),
            allowHalfOpen: true,
          },
          onConnection,
        )
      : createNetServer({ allowHalfOpen: true }, onConnection);
    this.server.maxConnections = config.max_connections;
    this.server.on("drop", () => {
      this.metrics.connectionsClosed.inc({ receiver: options.name, reason: "max_connections" });
      options.logger.warn(
        { max_connections: config.max_connections },
        "forward connection refused: at max_connections",
      );
    });
    if (config.tls) {
      // A failed TLS handshake never becomes a connection; it must not become an unhandled error either.
      this.server.on("tlsClientError", (err) => {
        this.metrics.connectionsClosed.inc({ receiver: options.name, reason: "tls_error" });
        options.logger.warn({ err: err.message }, "forward TLS handshake failed");
      });
    }
  }

  /** "host:port" actually bound, after start(). */
  get boundAddress(): string {
    if (!this.address) throw new Error("receiver not started");
    return this.address;
  }

  async start(): Promise<void> {
    const { host, port } = parseEndpoint(this.options.config.endpoint);
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen({ host, port }, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.server.on("error", (err) => this.options.logger.error({ err }, "forward server error"));
    const addr = this.server.address();
    const boundPort = typeof addr === "object" && addr ? addr.port : port;
    this.address =
      typeof addr === "object" && addr
        ? `${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}`
        : "";
    if (this.options.config.udp_heartbeat) await this.startHeartbeat(host, boundPort);
    this.options.logger.info(
      { endpoint: this.address, tls: Boolean(this.options.config.tls) },
      "Forward receiver listening",
    );
  }

  /**
   * Fluentd's out_forward (heartbeat_type udp) sends a datagram to the
   * server's port and counts any reply as a sign of life; in_forward
   * answers with one byte, and so does this.
   */
  private async startHeartbeat(host: string, port: number): Promise<void> {
    const udp = createSocket({ type: host.includes(":") ? "udp6" : "udp4" });
    udp.on("message", (_msg, rinfo) => {
      this.metrics.heartbeats.inc({ receiver: this.options.name, transport: "udp" });
      udp.send(Buffer.from([0]), rinfo.port, rinfo.address, () => {});
    });
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once("error", reject);
        // In gateway workers, a non-exclusive bind is made once by the cluster primary and the one socket is
        // shared: every worker can read a heartbeat and answer from the same port. An exclusive bind would
        // fail in every worker but the first. Outside a cluster the flag changes nothing.
        udp.bind({ address: host, port, exclusive: false }, () => {
          udp.off("error", reject);
          resolve();
        });
      });
      udp.on("error", (err) => this.options.logger.warn({ err: err.message }, "forward UDP heartbeat error"));
      this.udp = udp;
    } catch (err) {
      udp.close();
      // TCP heartbeats and data still work; only UDP heartbeat clients would mark the gateway down.
      this.options.logger.warn(
        { err: (err as Error).message, port },
        "forward UDP heartbeat port unavailable",
      );
    }
  }

  async shutdown(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.udp) {
      const udp = this.udp;
      this.udp = undefined;
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    }
    const deadline = Date.now() + SHUTDOWN_GRACE_MS;
    for (const c of [...this.connections]) await c.drain(Math.max(0, deadline - Date.now()));
    for (const c of [...this.connections]) c.close("shutdown");
    await closed;
  }

  private accept(socket: Socket): void {
    const conn = new Connection(this, socket);
    this.connections.add(conn);
    this.metrics.openConnections.inc({ receiver: this.options.name });
    socket.once("close", () => {
      this.connections.delete(conn);
      this.metrics.openConnections.dec({ receiver: this.options.name });
      conn.onClosed();
    });
  }
}

class Connection {
  private readonly splitter: FrameSplitter;
  private readonly decoder = createDecoder();
  private readonly handshake: Handshake | undefined;
  private authenticated: boolean;
  private readonly queue: QueuedFrame[] = [];
  private queuedBytes = 0;
  private busy: Promise<void> | undefined;
  private closeReason: string | undefined;
  private ended = false;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  private readonly name: string;

  constructor(
    private readonly receiver: ForwardReceiver,
    private readonly socket: Socket,
  ) {
    const { config, name, logger } = receiver.options;
    this.name = name;
    this.log = logger.child({ remote: `${socket.remoteAddress}:${socket.remotePort}` });
    this.splitter = new FrameSplitter(config.max_message_size);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("end", () => this.onEnd());
    // Resets and broken pipes are how heartbeat probes and restarting agents leave.
    socket.on("error", (err) => this.log.debug({ err: err.message }, "forward connection error"));
    const security = config.security;
    this.authenticated = !security;
    if (security) {
      this.handshake = new Handshake({
        selfHostname: receiver.selfHostname,
        sharedKey: security.shared_key,
        users: security.users,
      });
      socket.write(this.handshake.helo());
      this.handshakeTimer = setTimeout(() => this.close("handshake_timeout"), HANDSHAKE_TIMEOUT_MS);
      this.handshakeTimer.unref();
    }
  }

  onClosed(): void {
    clearTimeout(this.handshakeTimer);
    const reason =
      this.closeReason === undefined || this.closeReason === "done" ? "client" : this.closeReason;
    this.receiver.metrics.connectionsClosed.inc({ receiver: this.name, reason });
  }

  /** Waits (up to `ms`) for the batch in flight and whatever is queued after it. */
  async drain(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        timedOut = true;
        resolve();
      }, ms);
    });
    while (this.busy && !this.closeReason && !timedOut) await Promise.race([this.busy, timeout]);
    clearTimeout(timer);
  }

  close(reason: string, detail?: string): void {
    if (this.closeReason) return;
    this.closeReason = reason;
    if (reason !== "shutdown" && reason !== "done") {
      this.log.warn({ reason, detail }, "closing forward connection");
    }
    this.queue.length = 0;
    this.queuedBytes = 0;
    if (reason === "done") this.socket.end();
    else this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closeReason) return;
    let frames: Uint8Array[];
    try {
      frames = this.splitter.push(chunk);
    } catch (err) {
      if (err instanceof FrameError) {
        // Whole frames before the bad bytes are still processed.
        this.close(err.reason, err.message);
        return;
      }
      throw err;
    }
    for (const f of frames) {
      if (this.closeReason) return;
      this.onFrame(f);
    }
    if (this.queuedBytes > this.receiver.options.config.max_message_size) this.socket.pause();
    this.kick();
  }

  private onEnd(): void {
    this.ended = true;
    if (this.closeReason) return;
    if (this.splitter.buffered > 0) {
      this.close("truncated", `connection ended inside a frame (${this.splitter.buffered} bytes held)`);
      return;
    }
    if (!this.busy) this.close("done");
  }

  private onFrame(bytes: Uint8Array): void {
    let value: unknown;
    try {
      value = this.decoder.decode(bytes);
    } catch (err) {
      this.close("malformed", `undecodable msgpack: ${(err as Error).message}`);
      return;
    }
    if (!this.authenticated) {
      this.onPing(value);
      return;
    }
    let frame: EventFrame;
    try {
      frame = classifyFrame(value, bytes);
    } catch (err) {
      if (err instanceof InvalidFrameError || err instanceof FrameError) {
        this.close("invalid_frame", err.message);
        return;
      }
      throw err;
    }
    this.receiver.metrics.frames.inc({ receiver: this.name, mode: frame.mode });
    this.queue.push({ frame, bytes: bytes.length, observedUnixNano: nowUnixNano() });
    this.queuedBytes += bytes.length;
  }

  private onPing(value: unknown): void {
    const result = this.handshake?.ping(value);
    if (!result) {
      this.close("auth_failed", "expected PING before any event");
      return;
    }
    this.socket.write(result.pong);
    if (!result.ok) {
      this.receiver.metrics.authFailures.inc({ receiver: this.name });
      this.log.warn(
        { client_hostname: result.clientHostname, username: result.username, reason: result.reason },
        "forward authentication failed",
      );
      this.closeReason = "auth_failed";
      // Let the PONG with the reason reach the client before closing.
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
      return;
    }
    clearTimeout(this.handshakeTimer);
    this.authenticated = true;
  }

  private kick(): void {
    if (this.busy || this.queue.length === 0 || this.closeReason) return;
    this.busy = this.run().finally(() => {
      this.busy = undefined;
      if (this.closeReason) return;
      if (this.queue.length) this.kick();
      else if (this.ended) this.close("done");
      else this.socket.resume();
    });
  }

  private async run(): Promise<void> {
    while (this.queue.length && !this.closeReason) {
      const batch = this.queue.splice(0, this.queue.length);
      this.queuedBytes = 0;
      this.socket.resume();
      await this.process(batch);
    }
  }

  /** Expands, stores and acknowledges one batch of frames; closes the connection on failure. */
  private async process(batch: QueuedFrame[]): Promise<void> {
    const { metrics } = this.receiver;
    const tagged: TaggedEntries[] = [];
    const acks: Array<string | Uint8Array> = [];
    let failure: { reason: string; detail: string } | undefined;
    for (const q of batch) {
      const { frame } = q;
      if (frame.signal !== 0) {
        metrics.droppedFrames.inc({ receiver: this.name, reason: "unsupported_signal" });
        this.log.warn(
          { tag: frame.tag, fluent_signal: frame.signal },
          "forward frame of metrics or traces skipped",
        );
        if (frame.chunk !== undefined) acks.push(frame.chunk);
        continue;
      }
      let entries: ForwardEntry[];
      try {
        entries = await this.expand(frame);
      } catch (err) {
        // The frames before this one are still stored and acknowledged.
        failure = { reason: "invalid_frame", detail: (err as Error).message };
        break;
      }
      const invalid = entries.filter((e) => e.error !== undefined).length;
      if (invalid) {
        metrics.invalidEntries.inc({ receiver: this.name }, invalid);
        this.log.warn(
          { tag: frame.tag, invalid },
          "forward entries not [time, record]; stored with fluent.error",
        );
      }
      if (entries.length) tagged.push({ tag: frame.tag, entries, observedUnixNano: q.observedUnixNano });
      if (frame.chunk !== undefined) acks.push(frame.chunk);
    }
    if (tagged.length) {
      const { bytes, records } = buildExportRequest(tagged, this.receiver.mapping);
      try {
        const outcome = await this.receiver.options.ingest.ingest(bytes, {
          receiver: this.name,
          sourceProtocol: SourceProtocol.FORWARD,
          tenant: this.receiver.options.tenant,
        });
        if (outcome.rejectedRecords) {
          this.log.warn(
            { records, rejected: outcome.rejectedRecords, reason: outcome.errorMessage },
            "forward records dead-lettered",
          );
        }
      } catch (err) {
        const e = asSluiceError(err);
        // No ack: the client still holds the chunk and sends it again on a new connection.
        this.close(e.retryable ? "log_unavailable" : "ingest_error", e.message);
        return;
      }
    }
    for (const chunk of acks) {
      if (this.closeReason && this.closeReason !== "done") break;
      this.socket.write(encode({ ack: chunk }));
      metrics.acks.inc({ receiver: this.name });
    }
    if (failure) this.close(failure.reason, failure.detail);
  }

  private async expand(frame: EventFrame): Promise<ForwardEntry[]> {
    let entries: unknown[];
    if (Array.isArray(frame.entries)) {
      entries = frame.entries;
    } else {
      let packed = frame.entries;
      if (frame.mode === "compressed_packed_forward") {
        try {
          packed = await gunzipAsync(packed, {
            maxOutputLength: this.receiver.options.config.max_decompressed_size,
          });
        } catch (err) {
          throw new Error(`cannot decompress entries: ${(err as Error).message}`);
        }
      }
      try {
        entries = decodeAll(this.decoder, packed);
      } catch (err) {
        throw new Error(`undecodable packed entries: ${(err as Error).message}`);
      }
    }
    return entries.map(parseEntry);
  }
}
