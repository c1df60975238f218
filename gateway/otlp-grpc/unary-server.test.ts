/**
 * The unary server answers every case as @grpc/grpc-js's Server does: the
 * same requests, sent frame by frame over node:http2, go to both servers
 * running the same handler, and the answers (status, headers, message,
 * trailers) must match.
 */
import http2 from "node:http2";
import { deflateSync, gzipSync } from "node:zlib";
import { Metadata, Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawLogsServiceDefinition } from "./otlp-grpc-receiver.js";
import { type GrpcStatusAnswer, UnaryGrpcServer } from "./unary-server.js";

const PATH = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
const MAX = 1024;

/** The handler both servers run: the request's first byte says what to answer. */
async function handler(request: Buffer): Promise<Uint8Array> {
  const op = request[0];
  if (op === 1) return Buffer.from("response bytes");
  if (op === 2) {
    const answer: GrpcStatusAnswer = {
      code: 14,
      details: 'log unavailable: ünïcode, 100% "quoted"',
      trailers: { "grpc-status-details-bin": Buffer.from([0, 1, 2, 250]), "x-extra": "yes" },
    };
    throw answer;
  }
  if (op === 3) {
    await new Promise((r) => setTimeout(r, 300));
    return new Uint8Array(0);
  }
  if (op === 4) throw new Error("plain error");
  // The request echoed back, so its bytes (after decompression) are checked too.
  return request;
}

function grpcJsHandler(call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) {
  handler(call.request).then(
    (response) => callback(null, Buffer.from(response)),
    (err: unknown) => {
      if (!(err as GrpcStatusAnswer).trailers) {
        callback(err as Error);
        return;
      }
      const { code, details, trailers } = err as GrpcStatusAnswer;
      const metadata = new Metadata();
      for (const [k, v] of Object.entries(trailers ?? {})) {
        metadata.set(k, typeof v === "string" ? v : Buffer.from(v));
      }
      callback({ code, details, metadata });
    },
  );
}

interface Answer {
  headers: Record<string, unknown>;
  body: string;
  trailers: Record<string, unknown>;
}

const IGNORED = new Set(["date"]);

function pick(h: http2.IncomingHttpHeaders | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(h ?? {})) if (!IGNORED.has(k)) out[k] = v;
  return out;
}

/** Sends `frames` as separate DATA writes on one stream and collects the answer. */
function call(
  address: string,
  frames: Buffer[],
  headers: Record<string, string> = {},
  path = PATH,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const client = http2.connect(`http://${address}`);
    client.on("error", reject);
    const req = client.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      ...headers,
    });
    let responseHeaders: http2.IncomingHttpHeaders | undefined;
    let trailers: http2.IncomingHttpHeaders | undefined;
    const body: Buffer[] = [];
    req.on("response", (h) => {
      responseHeaders = h;
    });
    req.on("trailers", (t) => {
      trailers = t;
    });
    req.on("data", (d: Buffer) => body.push(d));
    req.on("error", () => {});
    req.on("close", () => {
      client.close();
      resolve({
        headers: pick(responseHeaders),
        body: Buffer.concat(body).toString("hex"),
        trailers: pick(trailers),
      });
    });
    for (const f of frames) req.write(f);
    req.end();
  });
}

/** A length-prefixed gRPC message. */
function message(bytes: Uint8Array, compressed = false, declaredLength = bytes.length): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = compressed ? 1 : 0;
  prefix.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([prefix, bytes]);
}

describe("UnaryGrpcServer answers as grpc-js's Server does", () => {
  let ours: UnaryGrpcServer;
  let theirs: Server;
  let oursAt = "";
  let theirsAt = "";

  beforeAll(async () => {
    ours = new UnaryGrpcServer({ maxReceiveMessageBytes: MAX });
    ours.register(PATH, handler);
    oursAt = `127.0.0.1:${await ours.listen("127.0.0.1", 0)}`;
    theirs = new Server({ "grpc.max_receive_message_length": MAX });
    theirs.addService(rawLogsServiceDefinition, { Export: grpcJsHandler });
    const port = await new Promise<number>((resolve, reject) =>
      theirs.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    theirsAt = `127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await ours?.shutdown();
    theirs?.forceShutdown();
  });

  const echo = Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const cases: [string, () => Buffer[], Record<string, string>?, string?][] = [
    ["an empty response", () => [message(Buffer.from([9]))]],
    ["a non-empty response", () => [message(Buffer.from([1]))]],
    ["the request's bytes back", () => [message(echo)]],
    ["an empty request message", () => [message(Buffer.alloc(0))]],
    ["a handler's error with trailers, one binary", () => [message(Buffer.from([2]))]],
    ["a handler's plain Error", () => [message(Buffer.from([4]))]],
    ["a method that does not exist", () => [message(echo)], {}, "/no.Such/Method"],
    ["a content type that is not gRPC", () => [message(echo)], { "content-type": "text/plain" }],
    ["a message over the limit", () => [message(Buffer.alloc(MAX + 1))]],
    ["a length prefix over the limit, body not sent", () => [message(Buffer.alloc(3), false, MAX * 10)]],
    ["a message exactly at the limit", () => [message(Buffer.alloc(MAX, 7))]],
    ["two messages", () => [message(echo), message(echo)]],
    ["two messages in one DATA frame", () => [Buffer.concat([message(echo), message(echo)])]],
    ["no message", () => []],
    ["a message cut short", () => [message(Buffer.alloc(3), false, 10)]],
    ["one message and the start of another", () => [message(echo), Buffer.from([0, 0, 0])]],
    ["a message in one-byte DATA frames", () => [...message(echo)].map((b) => Buffer.from([b]))],
    ["gzip", () => [message(gzipSync(echo), true)], { "grpc-encoding": "gzip" }],
    ["deflate", () => [message(deflateSync(echo), true)], { "grpc-encoding": "deflate" }],
    ["the compressed flag with identity", () => [message(echo, true)], { "grpc-encoding": "identity" }],
    ["the compressed flag without grpc-encoding", () => [message(echo, true)]],
    ["gzip declared but the flag unset", () => [message(echo)], { "grpc-encoding": "gzip" }],
    ["an unsupported encoding", () => [message(echo, true)], { "grpc-encoding": "br" }],
    ["corrupt gzip", () => [message(Buffer.from("not gzip at all"), true)], { "grpc-encoding": "gzip" }],
    [
      "gzip that inflates past the limit",
      () => [message(gzipSync(Buffer.alloc(MAX * 4)), true)],
      { "grpc-encoding": "gzip" },
    ],
    ["an invalid grpc-timeout", () => [message(echo)], { "grpc-timeout": "soon" }],
    ["a deadline shorter than the handler", () => [message(Buffer.from([3]))], { "grpc-timeout": "50m" }],
    ["a deadline longer than the handler", () => [message(Buffer.from([3]))], { "grpc-timeout": "5S" }],
  ];

  for (const [name, frames, headers, path] of cases) {
    it(name, async () => {
      const [a, b] = await Promise.all([
        call(oursAt, frames(), headers, path),
        call(theirsAt, frames(), headers, path),
      ]);
      expect(a).toEqual(b);
    });
  }

  it("answers a cancelled call's peers and keeps serving", async () => {
    const client = http2.connect(`http://${oursAt}`);
    const req = client.request({ ":method": "POST", ":path": PATH, "content-type": "application/grpc" });
    req.on("error", () => {});
    req.end(message(Buffer.from([3])));
    await new Promise((r) => setTimeout(r, 50));
    req.close(http2.constants.NGHTTP2_CANCEL);
    await new Promise((r) => setTimeout(r, 400));
    client.close();
    const after = await call(oursAt, [message(Buffer.from([1]))]);
    expect(after.trailers["grpc-status"]).toBe("0");
  });

  it("lets a call in progress finish on shutdown", async () => {
    const server = new UnaryGrpcServer({ maxReceiveMessageBytes: MAX });
    server.register(PATH, handler);
    const at = `127.0.0.1:${await server.listen("127.0.0.1", 0)}`;
    const pending = call(at, [message(Buffer.from([3]))]);
    await new Promise((r) => setTimeout(r, 50));
    await server.shutdown();
    const answer = await pending;
    expect(answer.trailers["grpc-status"]).toBe("0");
  });
});
