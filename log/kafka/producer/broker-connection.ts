/**
 * One TCP connection to one broker: size-prefixed frames, requests
 * pipelined and matched to responses by correlation id. Any failure
 * (socket error, timeout, unparseable frame) closes the connection and
 * fails every request still waiting, since their outcome is then unknown.
 */
import { connect, type Socket } from "node:net";
import { ErrorCode, SluiceError } from "../../../core/errors.js";

interface Waiting {
  resolve: (body: Buffer) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Largest response frame accepted; produce and metadata answers are far smaller. */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

export function connectionError(message: string, cause?: unknown): SluiceError {
  return new SluiceError(ErrorCode.LOG_UNAVAILABLE, message, { retryable: true, retryAfterMs: 1000, cause });
}

export class BrokerConnection {
  private readonly waiting = new Map<number, Waiting>();
  private nextCorrelationId = 1;
  private pending: Buffer | undefined;
  private closedWith: Error | undefined;
  /** Called once when the connection closes for any reason. */
  onClose: ((err: Error) => void) | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly address: string,
  ) {
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", (err) =>
      this.close(connectionError(`kafka connection to ${address} failed: ${err.message}`)),
    );
    socket.on("close", () => this.close(connectionError(`kafka connection to ${address} closed`)));
  }

  static open(host: string, port: number, timeoutMs: number): Promise<BrokerConnection> {
    const address = `${host}:${port}`;
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(connectionError(`kafka connection to ${address} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(new BrokerConnection(socket, address));
      });
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(connectionError(`kafka connection to ${address} failed: ${err.message}`, err));
      });
    });
  }

  get isOpen(): boolean {
    return this.closedWith === undefined;
  }

  /**
   * Sends one request. `encode` gets the correlation id and returns the whole
   * frame (size prefix included); the promise resolves with the response
   * body after the correlation id.
   */
  request(encode: (correlationId: number) => Buffer, timeoutMs: number): Promise<Buffer> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextCorrelationId;
    this.nextCorrelationId = id === 0x7fffffff ? 1 : id + 1;
    const frame = encode(id);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(
        () => this.close(connectionError(`kafka request to ${this.address} timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiting.set(id, { resolve, reject, timer });
      this.socket.write(frame);
    });
  }

  close(err: Error = connectionError(`kafka connection to ${this.address} closed`)): void {
    if (this.closedWith) return;
    this.closedWith = err;
    this.socket.destroy();
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiting.clear();
    this.onClose?.(err);
  }

  private receive(chunk: Buffer): void {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buf.length >= 4) {
      const size = buf.readInt32BE(0);
      if (size < 4 || size > MAX_RESPONSE_BYTES) {
        this.close(connectionError(`kafka broker ${this.address} sent a frame of ${size} bytes`));
        return;
      }
      if (buf.length < 4 + size) break;
      const id = buf.readInt32BE(4);
      const body = buf.subarray(8, 4 + size);
      buf = buf.subarray(4 + size);
      const w = this.waiting.get(id);
      if (!w) {
        this.close(connectionError(`kafka broker ${this.address} answered unknown correlation id ${id}`));
        return;
      }
      this.waiting.delete(id);
      clearTimeout(w.timer);
      w.resolve(body);
    }
    this.pending = buf.length ? buf : undefined;
  }
}
