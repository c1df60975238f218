/**
 * Fluent Forward checks over TCP: each of the four event modes with a chunk
 * option must be acknowledged with the same chunk id, and with a shared key
 * the HELO/PING/PONG handshake must let the right key in and keep a wrong
 * one out.
 */
import { createHash, randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { gzipSync } from "node:zlib";
import { decodeMultiStream, ExtData, encode } from "@msgpack/msgpack";
import {
  type Check,
  type ConformanceOptions,
  errorText,
  fail,
  notApplicable,
  pass,
  type Result,
} from "./types.js";

interface ForwardContext {
  host: string;
  port: number;
  sharedKey?: string;
  timeoutMs: number;
}

export function forwardContext(options: ConformanceOptions & { forward: string }): ForwardContext {
  const match = /^\[?([^\]]*)\]?:(\d+)$/.exec(options.forward.replace(/^tcp:\/\//, ""));
  if (!match) throw new Error(`--forward: expected host:port, got ${options.forward}`);
  return {
    host: match[1] ?? "127.0.0.1",
    port: Number(match[2]),
    sharedKey: options.sharedKey,
    timeoutMs: options.timeoutMs ?? 10_000,
  };
}

/** A TCP connection that yields the msgpack objects the server sends, one at a time, with a deadline. */
class Connection {
  private readonly incoming: AsyncIterator<unknown>;

  private constructor(private readonly socket: Socket) {
    this.incoming = decodeMultiStream(socket)[Symbol.asyncIterator]();
  }

  static open(ctx: ForwardContext): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: ctx.host, port: ctx.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect timed out after ${ctx.timeoutMs}ms`));
      }, ctx.timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        resolve(new Connection(socket));
      });
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  send(value: unknown): void {
    this.socket.write(encode(value));
  }

  /** The next object, or undefined when none arrives in time or the server closes. */
  async next(timeoutMs: number): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    try {
      const item = await Promise.race([
        this.incoming.next().catch(() => ({ done: true, value: undefined })),
        timeout,
      ]);
      if (item === undefined || item.done) return undefined;
      return item.value;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

const sha512hex = (...parts: (string | Uint8Array)[]) => {
  const h = createHash("sha512");
  for (const p of parts) h.update(p);
  return h.digest("hex");
};

interface Helo {
  nonce: Uint8Array | string;
  auth: Uint8Array | string;
}

function asHelo(message: unknown): Helo | undefined {
  if (!Array.isArray(message) || message[0] !== "HELO") return undefined;
  const opts = (message[1] ?? {}) as { nonce?: Uint8Array | string; auth?: Uint8Array | string };
  return { nonce: opts.nonce ?? "", auth: opts.auth ?? "" };
}

interface Pong {
  ok: boolean;
  reason: string;
  hostname: string;
  digest: string;
}

function asPong(message: unknown): Pong | undefined {
  if (!Array.isArray(message) || message[0] !== "PONG") return undefined;
  return {
    ok: message[1] === true,
    reason: String(message[2] ?? ""),
    hostname: String(message[3] ?? ""),
    digest: String(message[4] ?? ""),
  };
}

const CLIENT_HOSTNAME = "sluice-conformance";

/**
 * Answers a HELO with a PING using `key`; returns the PONG, or a description
 * of what arrived instead.
 */
async function handshake(
  conn: Connection,
  helo: Helo,
  key: string,
  ctx: ForwardContext,
): Promise<Pong | string> {
  const salt = randomBytes(16).toString("hex");
  conn.send(["PING", CLIENT_HOSTNAME, salt, sha512hex(salt, CLIENT_HOSTNAME, helo.nonce, key), "", ""]);
  const reply = await conn.next(ctx.timeoutMs);
  const pong = asPong(reply);
  if (!pong)
    return reply === undefined
      ? "no PONG (connection closed or timed out)"
      : `expected PONG, received ${JSON.stringify(reply)}`;
  if (pong.ok) {
    const expected = sha512hex(salt, pong.hostname, helo.nonce, key);
    if (pong.digest !== expected) return "PONG accepted the key but its shared_key digest does not match";
  }
  return pong;
}

/** Opens a connection ready for events: handshaken when the server asks for it. */
async function ready(ctx: ForwardContext): Promise<{ conn: Connection } | { error: string }> {
  const conn = await Connection.open(ctx);
  // A server with a shared key speaks first; without one it stays silent.
  const first = ctx.sharedKey !== undefined ? await conn.next(ctx.timeoutMs) : undefined;
  if (ctx.sharedKey === undefined) return { conn };
  const helo = asHelo(first);
  if (!helo) {
    conn.close();
    return {
      error: `--shared-key given, expected HELO, received ${first === undefined ? "nothing" : JSON.stringify(first)}`,
    };
  }
  const pong = await handshake(conn, helo, ctx.sharedKey, ctx);
  if (typeof pong === "string" || !pong.ok) {
    conn.close();
    return { error: typeof pong === "string" ? pong : `handshake refused: ${pong.reason}` };
  }
  return { conn };
}

/** Fluentd's EventTime: ext type 0, seconds and nanoseconds as two big-endian uint32. */
function eventTime(ms: number): ExtData {
  const buf = Buffer.alloc(8);
  buf.writeUInt32BE(Math.floor(ms / 1000), 0);
  buf.writeUInt32BE((ms % 1000) * 1_000_000, 4);
  return new ExtData(0, new Uint8Array(buf));
}

type Mode = "message" | "forward" | "packed-forward" | "compressed-packed-forward";

function eventFor(mode: Mode, chunk: string): unknown {
  const tag = "sluice.conformance";
  const now = Date.now();
  const record = (n: number) => ({ message: `conformance ${mode} ${n}`, mode });
  const entries = [0, 1].map((n) => [eventTime(now), record(n)]);
  switch (mode) {
    case "message":
      return [tag, eventTime(now), record(0), { chunk }];
    case "forward":
      return [tag, entries, { chunk }];
    case "packed-forward":
      return [tag, Buffer.concat(entries.map((e) => encode(e))), { chunk, size: entries.length }];
    case "compressed-packed-forward":
      return [
        tag,
        gzipSync(Buffer.concat(entries.map((e) => encode(e)))),
        { chunk, size: entries.length, compressed: "gzip" },
      ];
  }
}

const DESCRIPTIONS: Record<Mode, string> = {
  message: "Message mode [tag, time, record, {chunk}] → ack with the same chunk",
  forward: "Forward mode [tag, [[time, record]…], {chunk}] → ack with the same chunk",
  "packed-forward": "PackedForward mode (msgpack stream in bin) → ack with the same chunk",
  "compressed-packed-forward":
    "CompressedPackedForward mode (gzip, compressed: gzip) → ack with the same chunk",
};

async function modeCheck(ctx: ForwardContext, mode: Mode): Promise<Result> {
  const check: Check = { id: `forward.${mode}`, transport: "forward", description: DESCRIPTIONS[mode] };
  try {
    const opened = await ready(ctx);
    if ("error" in opened) return fail(check, opened.error);
    const { conn } = opened;
    try {
      const chunk = randomBytes(16).toString("base64");
      conn.send(eventFor(mode, chunk));
      const reply = await conn.next(ctx.timeoutMs);
      const ack = (reply as { ack?: unknown } | undefined)?.ack;
      if (reply === undefined)
        return fail(check, `expected {ack: "${chunk}"}, received nothing in ${ctx.timeoutMs}ms`);
      if (asHelo(reply)) return fail(check, "the server sent HELO: it needs a handshake, pass --shared-key");
      if (ack !== chunk) return fail(check, `expected {ack: "${chunk}"}, received ${JSON.stringify(reply)}`);
      return pass(check, `ack ${chunk}`);
    } finally {
      conn.close();
    }
  } catch (err) {
    return fail(check, `exchange failed: ${errorText(err)}`);
  }
}

async function handshakeCheck(ctx: ForwardContext, right: boolean): Promise<Result> {
  const check: Check = right
    ? {
        id: "forward.handshake.right-key",
        transport: "forward",
        description: "HELO/PING with the shared key → PONG true",
      }
    : {
        id: "forward.handshake.wrong-key",
        transport: "forward",
        description: "PING with a wrong shared key → PONG false",
      };
  if (ctx.sharedKey === undefined) return notApplicable(check, "no handshake to test: pass --shared-key");
  try {
    const conn = await Connection.open(ctx);
    try {
      const first = await conn.next(ctx.timeoutMs);
      const helo = asHelo(first);
      if (!helo)
        return fail(
          check,
          `expected HELO, received ${first === undefined ? "nothing" : JSON.stringify(first)}`,
        );
      const key = right ? ctx.sharedKey : `${ctx.sharedKey}-wrong`;
      const pong = await handshake(conn, helo, key, ctx);
      if (typeof pong === "string")
        return fail(check, right ? pong : `expected PONG false, received: ${pong}`);
      if (right)
        return pong.ok
          ? pass(check, `PONG true from ${pong.hostname}`)
          : fail(check, `expected PONG true, received false: ${pong.reason}`);
      return pong.ok
        ? fail(check, "expected PONG false for a wrong key, received PONG true")
        : pass(check, `PONG false: ${pong.reason}`);
    } finally {
      conn.close();
    }
  } catch (err) {
    return fail(check, `exchange failed: ${errorText(err)}`);
  }
}

export async function runForwardChecks(ctx: ForwardContext): Promise<Result[]> {
  const results: Result[] = [];
  for (const mode of ["message", "forward", "packed-forward", "compressed-packed-forward"] as const)
    results.push(await modeCheck(ctx, mode));
  results.push(await handshakeCheck(ctx, true));
  results.push(await handshakeCheck(ctx, false));
  return results;
}

/** The forward checks when no --forward endpoint was given. */
export function forwardNotApplicable(reason: string): Result[] {
  const modes: Mode[] = ["message", "forward", "packed-forward", "compressed-packed-forward"];
  return [
    ...modes.map((m) =>
      notApplicable({ id: `forward.${m}`, transport: "forward", description: DESCRIPTIONS[m] }, reason),
    ),
    notApplicable(
      {
        id: "forward.handshake.right-key",
        transport: "forward",
        description: "HELO/PING with the shared key → PONG true",
      },
      reason,
    ),
    notApplicable(
      {
        id: "forward.handshake.wrong-key",
        transport: "forward",
        description: "PING with a wrong shared key → PONG false",
      },
      reason,
    ),
  ];
}
