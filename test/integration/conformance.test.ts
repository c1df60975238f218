/**
 * The conformance suite run against our own gateway (every check passes or
 * is n/a with a reason) and against a deliberately wrong endpoint (the suite
 * must be able to fail).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatResults, type Result, runConformance } from "../../conformance/run.js";
import { startGateway, type TestGateway } from "../support/gateway.js";

const LIMIT = 64 * 1024;

const otlp = {
  otlp: {
    protocols: {
      grpc: { endpoint: "127.0.0.1:0", max_recv_msg_size_mib: LIMIT / (1024 * 1024) },
      http: { endpoint: "127.0.0.1:0", max_request_body_size: LIMIT },
    },
  },
};

// A small in-flight budget lets the overload probe see the gateway throttle.
const gatewaySettings = { gateway: { max_inflight_bytes: LIMIT } };

const SHARED_KEY = "conformance-shared-key";

interface Started {
  gw: TestGateway;
  /** Forward receiver that asks for the shared-key handshake. */
  forward: string;
  /** Forward receiver without a handshake. */
  forwardOpen: string;
}

async function startWithForward(): Promise<Started> {
  const gw = await startGateway({
    ...gatewaySettings,
    receivers: {
      ...otlp,
      forward: { endpoint: "127.0.0.1:0", security: { shared_key: SHARED_KEY } },
      "forward/open": { endpoint: "127.0.0.1:0" },
    },
    pipelines: { logs: { receivers: ["otlp", "forward", "forward/open"] } },
  });
  const find = (prefix: string) => {
    const address = Object.entries(gw.service.endpoints)
      .find(([name]) => name.startsWith(prefix))?.[1]
      .replace("0.0.0.0", "127.0.0.1");
    if (!address)
      throw new Error(`the gateway reports no ${prefix} endpoint: ${Object.keys(gw.service.endpoints)}`);
    return address;
  };
  return { gw, forward: find("forward/tcp"), forwardOpen: find("forward/open") };
}

describe("conformance suite", () => {
  let started: Started;
  let gw: TestGateway;

  beforeAll(async () => {
    started = await startWithForward();
    gw = started.gw;
  });
  afterAll(async () => gw?.stop());

  it("our gateway passes every check (or it is n/a with a reason)", async () => {
    const results = await runConformance({
      http: gw.http,
      grpc: gw.grpc,
      forward: started.forward,
      sharedKey: SHARED_KEY,
      maxBodyBytes: LIMIT,
      overloadProbe: 40,
      timeoutMs: 15_000,
    });
    process.stdout.write(`${formatResults(results)}\n`);
    const failures = results.filter((r) => r.result === "fail");
    expect(failures, formatResults(failures)).toEqual([]);
    for (const r of results.filter((r) => r.result === "n/a")) expect(r.reason).not.toBe("");
    const byId = new Map(results.map((r) => [r.id, r]));
    // The checks that need only the endpoint, not a probe or an option, must really have run.
    for (const id of [
      "http.protobuf.success",
      "http.json.response-type",
      "http.protobuf.gzip",
      "http.protobuf.undecodable",
      "http.json.invalid",
      "http.unsupported-media-type",
      "http.oversized",
      "http.partial-success",
      "grpc.success",
      "grpc.gzip",
      "grpc.empty",
      "grpc.undecodable",
      "grpc.oversized",
      "grpc.partial-success",
    ])
      expect(byId.get(id)?.result, id).toBe("pass");
    expect(byId.get("http.partial-success")?.reason).toMatch(/partial success/);
    for (const id of [
      "forward.message",
      "forward.forward",
      "forward.packed-forward",
      "forward.compressed-packed-forward",
      "forward.handshake.right-key",
      "forward.handshake.wrong-key",
    ])
      expect(byId.get(id)?.result, id).toBe("pass");
  });

  it("a Forward receiver without a shared key acks every mode without a handshake", async () => {
    const results = await runConformance({ forward: started.forwardOpen, timeoutMs: 15_000 });
    process.stdout.write(`${formatResults(results)}\n`);
    const byId = new Map(results.map((r) => [r.id, r]));
    for (const mode of ["message", "forward", "packed-forward", "compressed-packed-forward"])
      expect(byId.get(`forward.${mode}`)?.result, mode).toBe("pass");
    expect(byId.get("forward.handshake.right-key")?.result).toBe("n/a");
  });

  describe("against a wrong endpoint", () => {
    let server: Server;
    let url: string;

    beforeAll(async () => {
      server = createServer((req, res) => {
        req.resume();
        req.on("end", () => {
          res.writeHead(200, { "content-type": "text/plain" });
          res.end("ok");
        });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it("reports failures, each with what was expected and received", async () => {
      const results: Result[] = await runConformance({ http: url, maxBodyBytes: LIMIT, timeoutMs: 5_000 });
      const byId = new Map(results.map((r) => [r.id, r]));
      expect(byId.get("http.protobuf.response-type")?.result).toBe("fail");
      expect(byId.get("http.protobuf.response-type")?.reason).toMatch(
        /expected Content-Type application\/x-protobuf/,
      );
      expect(byId.get("http.json.success")?.result).toBe("fail");
      expect(byId.get("http.protobuf.undecodable")?.result).toBe("fail");
      expect(byId.get("http.protobuf.undecodable")?.reason).toMatch(/expected 400, received 200/);
      expect(byId.get("http.unsupported-media-type")?.result).toBe("fail");
      expect(byId.get("http.oversized")?.result).toBe("fail");
      expect(byId.get("http.partial-success")?.result).toBe("fail");
      expect(byId.get("http.bad-data-not-retryable")?.result).toBe("fail");
      expect(formatResults(results)).toMatch(/conformance checks: \d+ pass, [1-9]\d* fail, \d+ n\/a/);
    });
  });
});
