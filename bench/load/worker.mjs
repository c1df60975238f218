// The send loop. Runs inside a worker thread (or the main thread with one
// worker); each of `concurrency` lanes keeps exactly one request in flight.
import http from "node:http";
import http2 from "node:http2";
import { parentPort, workerData } from "node:worker_threads";
import grpc from "@grpc/grpc-js";
import { buildBodies } from "./payload.mjs";
import { Samples } from "./stats.mjs";

const EXPORT_PATH = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
const REQUEST_TIMEOUT_MS = 30_000;
const GRPC_STATUS = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));

function httpSender(target, protocol, concurrency) {
  const url = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const contentType = protocol === "http/json" ? "application/json" : "application/x-protobuf";
  const path = url.pathname === "/" ? "/v1/logs" : url.pathname;
  return {
    send(body) {
      return new Promise((resolve) => {
        const req = http.request(
          {
            agent,
            host: url.hostname,
            port: url.port,
            path,
            method: "POST",
            headers: { "content-type": contentType, "content-length": body.length },
            timeout: REQUEST_TIMEOUT_MS,
          },
          (res) => {
            // The body is drained, not parsed: a 200 is the gateway's durability promise.
            res.on("data", () => {});
            res.on("end", () => resolve(res.statusCode === 200 ? null : `http ${res.statusCode}`));
            res.on("error", (err) => resolve(`error ${err.code ?? err.message}`));
          },
        );
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", (err) => resolve(`error ${err.code ?? err.message}`));
        req.end(body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}

function grpcSender(target, channels) {
  const url = new URL(target);
  // Each client gets a subchannel pool of its own, so each is its own HTTP/2 connection.
  const clients = Array.from(
    { length: channels },
    () =>
      new grpc.Client(`${url.hostname}:${url.port}`, grpc.credentials.createInsecure(), {
        "grpc.max_send_message_length": 64 * 1024 * 1024,
        ...(channels > 1 ? { "grpc.use_local_subchannel_pool": 1 } : {}),
      }),
  );
  const identity = (b) => b;
  return {
    send(body, lane) {
      return new Promise((resolve) => {
        clients[lane % channels].makeUnaryRequest(
          EXPORT_PATH,
          identity,
          identity,
          body,
          new grpc.Metadata(),
          { deadline: Date.now() + REQUEST_TIMEOUT_MS },
          (err) => resolve(err ? `grpc ${GRPC_STATUS[err.code] ?? err.code}` : null),
        );
      });
    },
    close() {
      for (const c of clients) c.close();
    },
  };
}

/**
 * gRPC on node:http2 directly: the same frames grpc-js sends (HEADERS with a
 * grpc-timeout, one length-prefixed message, END_STREAM), for a client that
 * costs about what the HTTP client costs per request, so it is not the
 * bottleneck. The status comes from the trailers (or from a trailers-only answer).
 */
function http2GrpcSender(target, channels) {
  const url = new URL(target);
  const sessions = Array.from({ length: channels }, () => {
    const session = http2.connect(`http://${url.hostname}:${url.port}`);
    session.on("error", () => {});
    return session;
  });
  const framed = new WeakMap();
  const frame = (body) => {
    let f = framed.get(body);
    if (f === undefined) {
      f = Buffer.allocUnsafe(5 + body.length);
      f[0] = 0;
      f.writeUInt32BE(body.length, 1);
      body.copy(f, 5);
      framed.set(body, f);
    }
    return f;
  };
  const headers = {
    ":method": "POST",
    ":path": EXPORT_PATH,
    "content-type": "application/grpc",
    te: "trailers",
    "grpc-timeout": `${REQUEST_TIMEOUT_MS}m`,
  };
  return {
    send(body, lane) {
      return new Promise((resolve) => {
        let status;
        let req;
        try {
          req = sessions[lane % channels].request(headers);
        } catch (err) {
          resolve(`error ${err.code ?? err.message}`);
          return;
        }
        req.on("response", (h) => {
          if (h["grpc-status"] !== undefined) status = h["grpc-status"];
          else if (h[":status"] !== 200) status = `http ${h[":status"]}`;
        });
        req.on("trailers", (t) => {
          status = t["grpc-status"];
        });
        req.on("data", () => {});
        req.on("error", (err) => {
          status ??= `error ${err.code ?? err.message}`;
        });
        req.on("close", () => {
          if (status === "0") resolve(null);
          else if (status === undefined) resolve("grpc no status");
          else resolve(/^\d+$/.test(status) ? `grpc ${GRPC_STATUS[status] ?? status}` : status);
        });
        req.end(frame(body));
      });
    },
    close() {
      for (const s of sessions) s.close();
    },
  };
}

export async function runLoad(opts) {
  const { protocol, target, concurrency, durationMs, maxRequests, keys, records, recordSize, lanesOffset } =
    opts;
  const bodies = buildBodies({ protocol, keys, records, recordSize });
  const sender =
    protocol !== "grpc"
      ? httpSender(target, protocol, concurrency)
      : opts.grpcClient === "http2"
        ? http2GrpcSender(target, opts.grpcChannels ?? 1)
        : grpcSender(target, opts.grpcChannels ?? 1);
  const latencies = new Samples();
  const failures = {};
  let ok = 0;
  let okBytes = 0;
  let issued = 0;
  const started = performance.now();
  const deadline = started + durationMs;

  async function lane(i) {
    // Lanes start on different keys so every key is in flight at once.
    let k = (lanesOffset + i) % bodies.length;
    while (performance.now() < deadline && issued < maxRequests) {
      issued++;
      const body = bodies[k];
      k = (k + 1) % bodies.length;
      const t0 = performance.now();
      const failure = await sender.send(body, i);
      const dt = performance.now() - t0;
      if (failure === null) {
        ok++;
        okBytes += body.length;
        latencies.add(dt);
      } else {
        failures[failure] = (failures[failure] ?? 0) + 1;
        // A refused request is answered fast; pausing keeps a failing target from turning the run into a spin.
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  }

  await Promise.all(Array.from({ length: concurrency }, (_, i) => lane(i)));
  const elapsedMs = performance.now() - started;
  sender.close();
  return { ok, okRecords: ok * records, okBytes, failures, elapsedMs, latencies: latencies.values() };
}

if (parentPort && workerData?.benchLoad) {
  runLoad(workerData.benchLoad).then(
    (r) => parentPort.postMessage(r, [r.latencies.buffer]),
    (err) => parentPort.postMessage({ error: String(err?.stack ?? err) }),
  );
}
