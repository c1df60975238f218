/**
 * The Forward protocol's optional authentication: the server opens with
 * HELO (a nonce, a salt for user authentication, keepalive), the client
 * proves it knows the shared key (and a user's password) in PING, and the
 * server answers PONG, proving the key back with its own hostname.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { encode } from "@msgpack/msgpack";

export interface ForwardSecurity {
  selfHostname: string;
  sharedKey: string;
  users: ReadonlyArray<{ username: string; password: string }>;
}

export interface PingResult {
  ok: boolean;
  /** Why authentication failed; empty when it succeeded. */
  reason: string;
  clientHostname: string;
  username: string;
  /** The encoded PONG to send. */
  pong: Uint8Array;
}

function bytesOf(v: unknown): Buffer | undefined {
  if (typeof v === "string") return Buffer.from(v, "utf8");
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return undefined;
}

function sha512Hex(...parts: Array<Buffer | string>): string {
  const h = createHash("sha512");
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

function sameDigest(expected: string, got: Buffer | undefined): boolean {
  const want = Buffer.from(expected, "latin1");
  return got !== undefined && got.length === want.length && timingSafeEqual(want, got);
}

export class Handshake {
  readonly nonce = randomBytes(16);
  /** Empty when no users are configured, which tells the client to skip user authentication. */
  readonly authSalt: Buffer;

  constructor(private readonly security: ForwardSecurity) {
    this.authSalt = security.users.length ? randomBytes(16) : Buffer.alloc(0);
  }

  helo(): Uint8Array {
    return encode([
      "HELO",
      {
        nonce: this.nonce,
        // An empty string rather than an empty bin: clients test the salt for truthiness.
        auth: this.authSalt.length ? this.authSalt : "",
        keepalive: true,
      },
    ]);
  }

  /** Validates a PING; returns undefined when the message is not a PING at all. */
  ping(message: unknown): PingResult | undefined {
    if (!Array.isArray(message) || message[0] !== "PING" || message.length < 4) return undefined;
    const { selfHostname, sharedKey, users } = this.security;
    const clientHostname = typeof message[1] === "string" ? message[1] : "";
    const salt = bytesOf(message[2]);
    const digest = bytesOf(message[3]);
    const username = typeof message[4] === "string" ? message[4] : "";
    const passwordDigest = bytesOf(message[5]);
    let reason = "";
    if (salt === undefined) {
      reason = "shared_key_salt missing";
    } else if (!sameDigest(sha512Hex(salt, clientHostname, this.nonce, sharedKey), digest)) {
      reason = "shared_key mismatch";
    } else if (users.length) {
      const user = users.find((u) => u.username === username);
      const expected = sha512Hex(this.authSalt, username, user?.password ?? "");
      // The digest is checked even for unknown users, so timing does not tell which names exist.
      const match = sameDigest(expected, passwordDigest);
      if (!user || !match) reason = "username/password mismatch";
    }
    const ok = reason === "";
    const pong = encode([
      "PONG",
      ok,
      reason,
      selfHostname,
      ok && salt ? sha512Hex(salt, selfHostname, this.nonce, sharedKey) : "",
    ]);
    return { ok, reason, clientHostname, username, pong };
  }
}
