/**
 * A gRPC server for unary methods whose request and response are raw bytes,
 * on node:http2. It speaks the subset of gRPC over HTTP/2 that a unary call
 * needs, with the answers @grpc/grpc-js's Server gives (codes, texts and
 * headers), and leaves out what a unary raw-bytes method never uses:
 * per-call metadata objects, call objects, streams of messages, channelz.
 *
 * Owning the HTTP/2 server also sets what grpc-js offers no option for:
 * flow-control windows sized for batched OTLP requests (HTTP/2's default
 * 64 KiB connection window lets a client have about two 25 KB requests in
 * flight before it waits a round trip for WINDOW_UPDATE) and TCP_NODELAY.
 */

import { lookup } from "node:dns/promises";
import http2, { type Http2Server, type Http2Session, type ServerHttp2Stream } from "node:http2";
import { isIP, type Socket } from "node:net";
import { promisify } from "node:util";
import { gunzip, inflate } from "node:zlib";

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);

/** gRPC status codes this server sends itself (the handler may send any). */
export const GrpcStatus = {
  OK: 0,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
} as const;

/** A non-OK answer: the code, its text, and extra trailers ("-bin" keys take bytes). */
export interface GrpcStatusAnswer {
  code: number;
  details: string;
  trailers?: Record<string, string | Uint8Array>;
}

/**
 * Handles one call: resolves with the response message, or rejects with a
 * GrpcStatusAnswer (anything else rejected becomes UNKNOWN, as in grpc-js).
 */
export type UnaryHandler = (request: Buffer) => Promise<Uint8Array>;

export interface UnaryServerOptions {
  /** Largest request message, compressed and decompressed, in bytes. */
  maxReceiveMessageBytes: number;
  /** Per-stream flow-control window the server offers (SETTINGS_INITIAL_WINDOW_SIZE). */
  streamWindowBytes?: number;
  /** Connection-level flow-control window the server offers. */
  connectionWindowBytes?: number;
  /** Called with errors of the listening sockets after start-up. */
  onError?: (err: Error) => void;
}

const DEFAULT_STREAM_WINDOW = 4 * 1024 * 1024;
const DEFAULT_CONNECTION_WINDOW = 16 * 1024 * 1024;

const { HTTP2_HEADER_CONTENT_TYPE, HTTP2_HEADER_PATH, HTTP2_HEADER_STATUS } = http2.constants;

// The headers of every answer, as grpc-js sends them.
const RESPONSE_HEADERS = {
  [HTTP2_HEADER_STATUS]: 200,
  [HTTP2_HEADER_CONTENT_TYPE]: "application/grpc+proto",
  "grpc-accept-encoding": "identity,deflate,gzip",
  "grpc-encoding": "identity",
};
const RESPONSE_OPTIONS = { waitForTrailers: true };
const OK_TRAILERS = { "grpc-status": GrpcStatus.OK, "grpc-message": "OK" };
const END_STREAM = { endStream: true };

const DEADLINE = /(\d{1,8})\s*([HMSmun])/;
const DEADLINE_UNIT_MS: Record<string, number> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 0.001,
  n: 0.000001,
};

/** One call from its headers to its status. */
class UnaryCall {
  private chunks: Buffer[] = [];
  private received = 0;
  // Where the next length-prefixed message starts in the bytes received, and how many are complete.
  private nextFrame = 0;
  private frames = 0;
  private answered = false;
  private deadline: NodeJS.Timeout | undefined;

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly path: string,
    private readonly encoding: string,
    private readonly handler: UnaryHandler,
    private readonly maxBytes: number,
    timeout: string | undefined,
  ) {
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
    stream.on("end", () => this.onEnd());
    if (timeout !== undefined) this.startDeadline(timeout);
  }

  private startDeadline(header: string): void {
    const m = DEADLINE.exec(header);
    if (m === null) {
      process.nextTick(() =>
        this.sendStatus({ code: GrpcStatus.INTERNAL, details: `Invalid grpc-timeout value "${header}"` }),
      );
      return;
    }
    const ms = (Number(m[1]) * (DEADLINE_UNIT_MS[m[2] as string] as number)) | 0;
    this.deadline = setTimeout(
      () => this.sendStatus({ code: GrpcStatus.DEADLINE_EXCEEDED, details: "Deadline exceeded" }),
      ms,
    );
  }

  private onData(chunk: Buffer): void {
    if (this.answered) return; // Answered early (too large, second message): the rest is read and dropped.
    this.chunks.push(chunk);
    this.received += chunk.length;
    // Check each length prefix as soon as it is in, as grpc-js does.
    while (this.received >= this.nextFrame + 5) {
      const length = this.uint32At(this.nextFrame + 1);
      if (length > this.maxBytes) {
        this.sendStatus({
          code: GrpcStatus.RESOURCE_EXHAUSTED,
          details: `Received message larger than max (${length} vs ${this.maxBytes})`,
        });
        return;
      }
      if (this.received < this.nextFrame + 5 + length) break;
      this.frames++;
      this.nextFrame += 5 + length;
      if (this.frames > 1) {
        this.sendStatus({
          code: GrpcStatus.UNIMPLEMENTED,
          details: `Received a second request message for server streaming method ${this.path}`,
        });
        return;
      }
    }
  }

  /** The big-endian uint32 at `offset` of the bytes received so far. */
  private uint32At(offset: number): number {
    let value = 0;
    for (let k = 0; k < 4; k++) value = value * 256 + this.byteAt(offset + k);
    return value;
  }

  private byteAt(offset: number): number {
    let at = offset;
    for (const chunk of this.chunks) {
      if (at < chunk.length) return chunk[at] as number;
      at -= chunk.length;
    }
    return 0;
  }

  private onEnd(): void {
    if (this.answered) return;
    if (this.frames === 0) {
      this.sendStatus({
        code: GrpcStatus.UNIMPLEMENTED,
        details: `Received no request message for server streaming method ${this.path}`,
      });
      return;
    }
    const first = this.chunks[0] as Buffer;
    const framed = this.chunks.length === 1 ? first : Buffer.concat(this.chunks, this.received);
    this.chunks = [];
    const message = framed.subarray(5, this.nextFrame);
    if (framed[0] === 1) this.decompress(message);
    else this.run(message);
  }

  /** A compressed message (flag 1) in the call's grpc-encoding. */
  private decompress(message: Buffer): void {
    const encoding = this.encoding;
    if (encoding === "identity") {
      this.run(message);
      return;
    }
    if (encoding !== "gzip" && encoding !== "deflate") {
      this.sendStatus({
        code: GrpcStatus.UNIMPLEMENTED,
        details: `Received message compressed with unsupported encoding "${encoding}"`,
      });
      return;
    }
    const options = { maxOutputLength: this.maxBytes };
    (encoding === "gzip" ? gunzipAsync(message, options) : inflateAsync(message, options)).then(
      (plain) => this.run(plain),
      (err: NodeJS.ErrnoException) =>
        this.sendStatus(
          err.code === "ERR_BUFFER_TOO_LARGE"
            ? {
                code: GrpcStatus.RESOURCE_EXHAUSTED,
                details: `Received message that decompresses to a size larger than ${this.maxBytes}`,
              }
            : { code: GrpcStatus.INTERNAL, details: "Failed to decompress message" },
        ),
    );
  }

  private run(message: Buffer): void {
    let answer: Promise<Uint8Array>;
    try {
      answer = this.handler(message);
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      (response) => this.sendMessage(response),
      (err: unknown) => this.sendStatus(asStatus(err)),
    );
  }

  private gone(): boolean {
    const stream = this.stream;
    return stream.destroyed || stream.closed;
  }

  private finish(): boolean {
    if (this.answered) return false;
    this.answered = true;
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    return !this.gone(); // A cancelled call has nobody left to answer.
  }

  /** OK: headers, the length-prefixed response, then the status in trailers. */
  private sendMessage(response: Uint8Array): void {
    if (!this.finish()) return;
    const stream = this.stream;
    try {
      const frame = response.length === 0 ? EMPTY_MESSAGE : frameMessage(response);
      stream.respond(RESPONSE_HEADERS, RESPONSE_OPTIONS);
      stream.once("wantTrailers", () => {
        if (!this.gone()) stream.sendTrailers(OK_TRAILERS);
      });
      stream.end(frame);
    } catch {
      // The stream went away under us (session destroyed): reset what is left of it.
      stream.destroy();
    }
  }

  /** Anything but OK, as a trailers-only response. */
  sendStatus(status: GrpcStatusAnswer): void {
    if (!this.finish()) return;
    try {
      this.stream.respond(statusHeaders(status), END_STREAM);
    } catch {
      this.stream.destroy();
    }
  }
}

// An empty response message (all of OTLP's full successes), framed.
const EMPTY_MESSAGE = Buffer.alloc(5);

function frameMessage(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** grpc-message is percent-encoded (encodeURI, as grpc-js); lone surrogates become U+FFFD first. */
function percentEncoded(text: string): string {
  try {
    return encodeURI(text);
  } catch {
    return encodeURI(text.replace(LONE_SURROGATE, "\ufffd"));
  }
}

function statusHeaders(status: GrpcStatusAnswer): Record<string, string | number> {
  const headers: Record<string, string | number> = {
    "grpc-status": status.code,
    "grpc-message": percentEncoded(status.details),
    [HTTP2_HEADER_STATUS]: 200,
    [HTTP2_HEADER_CONTENT_TYPE]: "application/grpc+proto",
  };
  for (const [key, value] of Object.entries(status.trailers ?? {})) {
    headers[key] = typeof value === "string" ? value : Buffer.from(value).toString("base64");
  }
  return headers;
}

/** What a handler rejected with, as grpc-js reads it: UNKNOWN unless it carries an integer code. */
function asStatus(err: unknown): GrpcStatusAnswer {
  if (err === null || typeof err !== "object") return { code: GrpcStatus.UNKNOWN, details: String(err) };
  const e = err as {
    code?: unknown;
    details?: unknown;
    message?: unknown;
    trailers?: GrpcStatusAnswer["trailers"];
  };
  return {
    code: typeof e.code === "number" && Number.isInteger(e.code) ? e.code : GrpcStatus.UNKNOWN,
    details:
      typeof e.details === "string" ? e.details : typeof e.message === "string" ? e.message : "Unknown Error",
    trailers: e.trailers,
  };
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export class UnaryGrpcServer {
  private readonly handlers = new Map<string, UnaryHandler>();
  private readonly servers: Http2Server[] = [];
  private readonly sessions = new Set<Http2Session>();
  private readonly streamWindow: number;
  private readonly connectionWindow: number;

  constructor(private readonly options: UnaryServerOptions) {
    this.streamWindow = options.streamWindowBytes ?? DEFAULT_STREAM_WINDOW;
    this.connectionWindow = options.connectionWindowBytes ?? DEFAULT_CONNECTION_WINDOW;
  }

  /** Registers the handler of one method, by its path ("/package.Service/Method"). */
  register(path: string, handler: UnaryHandler): void {
    this.handlers.set(path, handler);
  }

  /**
   * Listens on every address `host` resolves to, all on one port (the first
   * one bound when `port` is 0), as grpc-js's bindAsync does; resolves with
   * the port. Fails only when no address could be bound.
   */
  async listen(host: string, port: number): Promise<number> {
    const addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
    let bound = port;
    let firstError: unknown;
    for (const address of addresses) {
      try {
        bound = await this.listenOn(address, bound);
      } catch (err) {
        firstError ??= err;
      }
    }
    if (this.servers.length === 0) throw firstError ?? new Error(`${host} resolves to no address`);
    return bound;
  }

  /** Stops accepting, lets calls in progress finish, then resolves. */
  async shutdown(): Promise<void> {
    const closed = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const session of this.sessions) session.close();
    await Promise.all(closed);
  }

  /** Ends every connection at once. */
  forceShutdown(): void {
    for (const session of this.sessions) session.destroy();
    for (const s of this.servers) s.close();
  }

  private listenOn(address: string, port: number): Promise<number> {
    const server = http2.createServer({
      // As grpc-js: Node's session memory cap degrades badly when reached, and trailers may be large.
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
      maxSendHeaderBlockLength: Number.MAX_SAFE_INTEGER,
      settings: { initialWindowSize: this.streamWindow },
    });
    server.setTimeout(0);
    // Responses are small and latency-bound; don't let Nagle hold them for the client's delayed ACK.
    server.on("connection", (socket: Socket) => socket.setNoDelay(true));
    server.on("session", (session: Http2Session) => {
      this.sessions.add(session);
      session.once("close", () => this.sessions.delete(session));
      session.setLocalWindowSize(this.connectionWindow);
    });
    server.on("stream", (stream, headers) => this.onStream(stream, headers));
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: address, port }, () => {
        server.off("error", reject);
        server.on("error", (err) => this.options.onError?.(err));
        this.servers.push(server);
        const a = server.address();
        resolve(typeof a === "object" && a !== null ? a.port : port);
      });
    });
  }

  private onStream(stream: ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    // Errors end the stream, and the call with it; there is nobody left to answer.
    stream.on("error", () => {});
    const contentType = headers[HTTP2_HEADER_CONTENT_TYPE];
    if (typeof contentType !== "string" || !contentType.startsWith("application/grpc")) {
      stream.respond({ [HTTP2_HEADER_STATUS]: 415 }, END_STREAM);
      return;
    }
    const path = headerValue(headers[HTTP2_HEADER_PATH]) ?? "";
    const handler = this.handlers.get(path);
    if (handler === undefined) {
      // grpc-js sends this one text as it is, not percent-encoded; the path is a valid header value.
      stream.respond(
        {
          "grpc-status": GrpcStatus.UNIMPLEMENTED,
          "grpc-message": `The server does not implement the method ${path}`,
          [HTTP2_HEADER_STATUS]: 200,
          [HTTP2_HEADER_CONTENT_TYPE]: "application/grpc+proto",
        },
        END_STREAM,
      );
      return;
    }
    new UnaryCall(
      stream,
      path,
      headerValue(headers["grpc-encoding"]) ?? "identity",
      handler,
      this.options.maxReceiveMessageBytes,
      headerValue(headers["grpc-timeout"]),
    );
  }
}
