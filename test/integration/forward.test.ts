/**
 * The Forward receiver end to end: the real Fluent client library in every
 * event mode, with acks and with a shared key; raw sockets for the
 * handshake refusal, broken streams and the heartbeats; and no ack while
 * the log cannot make records durable.
 */
import { createHash } from "node:crypto";
import { createSocket } from "node:dgram";
import { connect, type Socket } from "node:net";
import { gzipSync } from "node:zlib";
import { EventTime, FluentClient } from "@fluent-org/logger";
import { decodeMulti, encode } from "@msgpack/msgpack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embeddedLogPath } from "../../log/create-log.js";
import type { AnyValue, KeyValue } from "../../proto/gen/opentelemetry/proto/common/v1/common_pb.js";
import type { LogRecord } from "../../proto/gen/opentelemetry/proto/logs/v1/logs_pb.js";
import { startGateway, type TestGateway } from "../support/gateway.js";
import { freePort } from "../support/ports.js";
import { decodeEnvelope, readEmbedded } from "../support/read-log.js";

const MAX_MESSAGE_SIZE = 256 * 1024;

interface Stored {
  record: LogRecord;
  service: string | undefined;
  attrs: Record<string, unknown>;
}

function plain(v: AnyValue | undefined): unknown {
  const c = v?.value;
  if (!c) return null;
  switch (c.case) {
    case "kvlistValue":
      return Object.fromEntries(c.value.values.map((kv) => [kv.key, plain(kv.value)]));
    case "arrayValue":
      return c.value.values.map(plain);
    case "intValue":
      return Number(c.value);
    case undefined:
      return null;
    default:
      return c.value;
  }
}

const attrsOf = (kvs: KeyValue[]) => Object.fromEntries(kvs.map((kv) => [kv.key, plain(kv.value)]));

/** Every stored record, by its `id` attribute. */
async function storedById(gw: TestGateway): Promise<Map<string, Stored[]>> {
  const out = new Map<string, Stored[]>();
  for (const m of await readEmbedded(embeddedLogPath(gw.config), gw.config.log.topics.logs)) {
    const rl = decodeEnvelope(m).envelope.resourceLogs;
    const service = rl?.resource?.attributes.find((kv) => kv.key === "service.name")?.value?.value.value;
    for (const sl of rl?.scopeLogs ?? []) {
      for (const record of sl.logRecords) {
        const attrs = attrsOf(record.attributes);
        const id = String(attrs.id);
        const list = out.get(id) ?? [];
        list.push({ record, service: service as string | undefined, attrs });
        out.set(id, list);
      }
    }
  }
  return out;
}

function forwardAddress(gw: TestGateway): { host: string; port: number } {
  const ep = gw.service.endpoints["forward/tcp"] ?? "";
  return { host: "127.0.0.1", port: Number(ep.slice(ep.lastIndexOf(":") + 1)) };
}

/** A raw Forward connection that collects what the server sends and notices when it closes. */
class RawConn {
  readonly socket: Socket;
  private data = Buffer.alloc(0);
  closed = false;
  readonly ready: Promise<void>;

  constructor(addr: { host: string; port: number }) {
    this.socket = connect(addr.port, addr.host);
    this.socket.on("data", (d) => {
      this.data = Buffer.concat([this.data, d]);
    });
    this.socket.on("error", () => {});
    this.socket.on("close", () => {
      this.closed = true;
    });
    this.ready = new Promise((resolve) => this.socket.once("connect", () => resolve()));
  }

  messages(): unknown[] {
    try {
      return [...decodeMulti(this.data)];
    } catch {
      return [];
    }
  }

  async waitFor(cond: () => boolean, ms = 10_000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (cond()) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return cond();
  }

  acks(): unknown[] {
    return this.messages()
      .filter((m): m is { ack: unknown } => typeof m === "object" && m !== null && "ack" in m)
      .map((m) => m.ack);
  }

  write(b: Uint8Array): void {
    this.socket.write(b);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function eventTimeExt(seconds: number, nanos: number): Buffer {
  const out = Buffer.alloc(10);
  out[0] = 0xd7;
  out[1] = 0x00;
  out.writeUInt32BE(seconds, 2);
  out.writeUInt32BE(nanos, 6);
  return out;
}

/** A frame in raw bytes: ["tag", [[[EventTime, metadata], record]], {chunk}] as Fluent Bit 2.1+ sends it. */
function fluentBitFrame(tag: string, id: string, chunk: string): Buffer {
  const entry = Buffer.concat([
    Buffer.from([0x92, 0x92]),
    eventTimeExt(1700000000, 987654321),
    encode({ stream: "stderr" }),
    encode({ log: `fb ${id}`, id, service: "fb-svc" }),
  ]);
  return Buffer.concat([
    Buffer.from([0x93]),
    encode(tag),
    encode(gzipSync(entry)),
    encode({ chunk, size: 1, compressed: "gzip" }),
  ]);
}

describe("Forward receiver", () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startGateway({
      receivers: { forward: { endpoint: "127.0.0.1:0", max_message_size: MAX_MESSAGE_SIZE } },
      pipelines: { logs: { receivers: ["otlp", "forward"] } },
    });
  });

  afterAll(async () => {
    await gw?.stop();
  });

  const modes = ["Message", "Forward", "PackedForward", "CompressedPackedForward"] as const;

  it.each(modes)("stores every acknowledged record of %s mode exactly once with its fields", async (mode) => {
    const addr = forwardAddress(gw);
    const client = new FluentClient("app", {
      eventMode: mode,
      socket: { host: addr.host, port: addr.port, disableReconnect: true },
      ack: { ackTimeout: 10_000 },
      flushInterval: mode === "Message" ? 0 : 20,
    });
    // Without reconnects the client does not connect by itself.
    await client.connect();
    const ids = Array.from({ length: 20 }, (_, i) => `${mode}-${i}`);
    await Promise.all(
      ids.map((id, i) =>
        client.emit(
          "web",
          {
            log: `hello ${id}`,
            id,
            "service.name": "checkout",
            http: { status: 200 + i, headers: { ua: "curl" }, path: ["a", "b"] },
          },
          new EventTime(1700000000 + i, 123456789),
        ),
      ),
    );
    await client.disconnect();
    const stored = await storedById(gw);
    ids.forEach((id, i) => {
      const list = stored.get(id);
      expect(list, id).toHaveLength(1);
      const s = list?.[0] as Stored;
      expect(s.service).toBe("checkout");
      expect(plain(s.record.body)).toBe(`hello ${id}`);
      expect(s.attrs["fluent.tag"]).toBe("app.web");
      expect(s.attrs.http).toEqual({ status: 200 + i, headers: { ua: "curl" }, path: ["a", "b"] });
      expect(s.record.timeUnixNano).toBe(BigInt(1700000000 + i) * 1_000_000_000n + 123456789n);
      expect(s.record.observedTimeUnixNano).toBeGreaterThan(0n);
    });
  });

  it("acks Fluent Bit's compressed entries with metadata only after storing them", async () => {
    const conn = new RawConn(forwardAddress(gw));
    await conn.ready;
    conn.write(fluentBitFrame("kube.var.log", "fb-1", "chunk-fb-1"));
    expect(await conn.waitFor(() => conn.acks().length === 1)).toBe(true);
    expect(conn.acks()).toEqual(["chunk-fb-1"]);
    const s = (await storedById(gw)).get("fb-1");
    expect(s).toHaveLength(1);
    expect(s?.[0]?.service).toBe("fb-svc");
    expect(s?.[0]?.record.timeUnixNano).toBe(1700000000_987654321n);
    expect(s?.[0]?.attrs["fluent.metadata.stream"]).toBe("stderr");
    conn.destroy();
  });

  it("accepts frames split across packets and several per packet", async () => {
    const conn = new RawConn(forwardAddress(gw));
    await conn.ready;
    const frames = Buffer.concat(
      Array.from({ length: 5 }, (_, i) =>
        Buffer.from(encode(["split", 1700000000, { log: "s", id: `split-${i}` }, { chunk: `split-${i}` }])),
      ),
    );
    for (let i = 0; i < frames.length; i += 11) {
      conn.write(frames.subarray(i, i + 11));
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(await conn.waitFor(() => conn.acks().length === 5)).toBe(true);
    const stored = await storedById(gw);
    for (let i = 0; i < 5; i++) expect(stored.get(`split-${i}`)).toHaveLength(1);
    conn.destroy();
  });

  it.each([
    ["malformed msgpack", () => Buffer.from([0x93, 0xa1, 0x74, 0xc1, 0x00]), false],
    ["a frame of no event mode", () => Buffer.from(encode({ not: "a frame" })), false],
    [
      "an oversized frame",
      () => Buffer.concat([Buffer.from([0x93, 0xa1, 0x74, 0xc6, 0x01, 0, 0, 0])]),
      false,
    ],
    [
      "a truncated frame",
      () => Buffer.from(encode(["t", 1, { log: "x".repeat(100) }])).subarray(0, 20),
      true,
    ],
  ])("closes only the connection that sent %s", async (_name, bytes, endAfter) => {
    const addr = forwardAddress(gw);
    const good = new RawConn(addr);
    const bad = new RawConn(addr);
    await Promise.all([good.ready, bad.ready]);
    const tag = `bad-${_name.replace(/\W+/g, "-")}`;
    good.write(encode(["good", 1700000000, { log: "before", id: `${tag}-before` }, { chunk: "g1" }]));
    expect(await good.waitFor(() => good.acks().length === 1)).toBe(true);
    bad.write(bytes());
    if (endAfter) bad.socket.end();
    expect(await bad.waitFor(() => bad.closed)).toBe(true);
    good.write(encode(["good", 1700000000, { log: "after", id: `${tag}-after` }, { chunk: "g2" }]));
    expect(await good.waitFor(() => good.acks().length === 2)).toBe(true);
    expect(good.closed).toBe(false);
    const stored = await storedById(gw);
    expect(stored.get(`${tag}-before`)).toHaveLength(1);
    expect(stored.get(`${tag}-after`)).toHaveLength(1);
    good.destroy();
    const metrics = await (await fetch(`${gw.admin}/metrics`)).text();
    expect(metrics).toMatch(/sluice_forward_connections_closed_total\{receiver="forward",reason="\w+"\} \d/);
  });

  it("closes a connection whose frame grows past max_message_size", async () => {
    const conn = new RawConn(forwardAddress(gw));
    await conn.ready;
    conn.write(Buffer.from([0x93, 0xa1, 0x74, 0xdc, 0xff, 0xff]));
    for (let i = 0; i < 10 && !conn.closed; i++) {
      conn.write(Buffer.alloc(64 * 1024, 0x01));
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await conn.waitFor(() => conn.closed)).toBe(true);
    const metrics = await (await fetch(`${gw.admin}/metrics`)).text();
    expect(metrics).toMatch(
      /sluice_forward_connections_closed_total\{receiver="forward",reason="too_large"\} [1-9]/,
    );
  });

  it("answers UDP heartbeats with one byte and takes TCP heartbeats quietly", async () => {
    const addr = forwardAddress(gw);
    const udp = createSocket("udp4");
    const reply = new Promise<Buffer>((resolve) => udp.once("message", (m) => resolve(m)));
    udp.send(Buffer.from([0]), addr.port, addr.host);
    const timeout = new Promise<Buffer>((_, reject) => setTimeout(() => reject(new Error("no reply")), 5000));
    const got = await Promise.race([reply, timeout]).finally(() => udp.close());
    expect(got).toHaveLength(1);
    for (let i = 0; i < 3; i++) {
      const c = new RawConn(addr);
      await c.ready;
      c.socket.end();
      expect(await c.waitFor(() => c.closed)).toBe(true);
    }
    const metrics = await (await fetch(`${gw.admin}/metrics`)).text();
    expect(metrics).toMatch(/sluice_forward_heartbeats_total\{receiver="forward",transport="udp"\} [1-9]/);
  });
});

describe("Forward receiver with a shared key", () => {
  let gw: TestGateway;
  const sharedKey = "s3cret-key";

  beforeAll(async () => {
    gw = await startGateway({
      receivers: {
        forward: {
          endpoint: "127.0.0.1:0",
          security: {
            shared_key: sharedKey,
            self_hostname: "gateway.test",
            users: [{ username: "agent", password: "pa55" }],
          },
          udp_heartbeat: false,
        },
      },
      pipelines: { logs: { receivers: ["forward"] } },
    });
  });

  afterAll(async () => {
    await gw?.stop();
  });

  it("stores records from a client that knows the key and the password", async () => {
    const addr = forwardAddress(gw);
    const client = new FluentClient("secure", {
      eventMode: "PackedForward",
      socket: { host: addr.host, port: addr.port, disableReconnect: true },
      security: { clientHostname: "agent.test", sharedKey, username: "agent", password: "pa55" },
      ack: { ackTimeout: 10_000 },
    });
    await client.connect();
    await Promise.all(
      Array.from({ length: 5 }, (_, i) => client.emit("x", { message: "m", id: `sec-${i}` }, 1700000000)),
    );
    await client.disconnect();
    const stored = await storedById(gw);
    for (let i = 0; i < 5; i++) expect(stored.get(`sec-${i}`)).toHaveLength(1);
  });

  it("refuses a wrong shared key with a PONG and closes", async () => {
    const conn = new RawConn(forwardAddress(gw));
    await conn.ready;
    expect(await conn.waitFor(() => conn.messages().length === 1)).toBe(true);
    const [kind, helo] = conn.messages()[0] as [string, { nonce: Uint8Array; auth: Uint8Array }];
    expect(kind).toBe("HELO");
    const salt = "salt";
    const digest = createHash("sha512")
      .update(salt)
      .update("client")
      .update(helo.nonce)
      .update("wrong")
      .digest("hex");
    const pw = createHash("sha512").update(helo.auth).update("agent").update("pa55").digest("hex");
    conn.write(encode(["PING", "client", salt, digest, "agent", pw]));
    expect(await conn.waitFor(() => conn.closed)).toBe(true);
    const pong = conn.messages()[1] as unknown[];
    expect(pong.slice(0, 4)).toEqual(["PONG", false, "shared_key mismatch", "gateway.test"]);
    // Events before authentication are never stored.
    const events = new RawConn(forwardAddress(gw));
    await events.ready;
    events.write(encode(["x", 1, { id: "unauthenticated" }, { chunk: "u" }]));
    expect(await events.waitFor(() => events.closed)).toBe(true);
    expect(events.acks()).toEqual([]);
    expect((await storedById(gw)).get("unauthenticated")).toBeUndefined();
  });
});

describe("Forward receiver while the log is unavailable", () => {
  let gw: TestGateway;

  beforeAll(async () => {
    const closedPort = await freePort();
    gw = await startGateway({
      receivers: { forward: { endpoint: "127.0.0.1:0", udp_heartbeat: false } },
      pipelines: { logs: { receivers: ["forward"] } },
      log: {
        backend: "kafka",
        kafka: { brokers: [`127.0.0.1:${closedPort}`], connection_timeout: "300ms", request_timeout: "1s" },
      },
      gateway: { append_timeout: "1s" },
    });
  });

  afterAll(async () => {
    await gw?.stop();
  });

  it("sends no ack and closes the connection so the client resends", async () => {
    expect(gw.service.log?.isHealthy()).toBe(false);
    const conn = new RawConn(forwardAddress(gw));
    await conn.ready;
    conn.write(encode(["x", 1700000000, { log: "not durable" }, { chunk: "nd-1" }]));
    expect(await conn.waitFor(() => conn.closed)).toBe(true);
    expect(conn.acks()).toEqual([]);
    const metrics = await (await fetch(`${gw.admin}/metrics`)).text();
    expect(metrics).toMatch(
      /sluice_forward_connections_closed_total\{receiver="forward",reason="log_unavailable"\} 1/,
    );
  });
});
