/**
 * Bad input over both transports: every case gets the OTLP answer (HTTP
 * status plus a google.rpc.Status in the request's encoding, or a gRPC code
 * with status details), nothing is appended, and the gateway keeps serving.
 */
import { gzipSync } from "node:zlib";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embeddedLogPath } from "../../log/create-log.js";
import { StatusSchema } from "../../proto/gen/google/rpc/status_pb.js";
import {
  ExportLogsServiceRequestSchema,
  ExportLogsServiceResponseSchema,
} from "../../proto/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js";
import { startGateway, type TestGateway } from "../support/gateway.js";
import { rawGrpcClient } from "../support/raw-grpc.js";
import { readEmbedded } from "../support/read-log.js";

const LIMIT = 64 * 1024;

function validRequest(body = "ok", extra: Record<string, unknown> = {}): Uint8Array {
  return toBinary(
    ExportLogsServiceRequestSchema,
    create(ExportLogsServiceRequestSchema, {
      resourceLogs: [
        {
          resource: {
            attributes: [
              { key: "service.name", value: { value: { case: "stringValue", value: "bad-input" } } },
            ],
          },
          scopeLogs: [{ logRecords: [{ body: { value: { case: "stringValue", value: body } }, ...extra }] }],
        },
      ],
    }),
  );
}

describe("bad input", () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startGateway({
      receivers: {
        otlp: {
          protocols: {
            grpc: { endpoint: "127.0.0.1:0", max_recv_msg_size_mib: LIMIT / (1024 * 1024) },
            http: { endpoint: "127.0.0.1:0", max_request_body_size: LIMIT },
          },
        },
      },
    });
  });
  afterAll(async () => gw?.stop());

  const post = (body: Uint8Array | string, headers: Record<string, string>) =>
    fetch(`${gw.http}/v1/logs`, {
      method: "POST",
      body: typeof body === "string" ? body : Buffer.from(body),
      headers,
    });

  async function protoStatus(res: Response) {
    expect(res.headers.get("content-type")).toMatch(/^application\/x-protobuf/);
    return fromBinary(StatusSchema, new Uint8Array(await res.arrayBuffer()));
  }

  async function jsonStatus(res: Response) {
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    return (await res.json()) as { code: number; message: string };
  }

  async function stillServing() {
    const res = await post(validRequest("after"), { "content-type": "application/x-protobuf" });
    expect(res.status).toBe(200);
  }

  describe("OTLP/HTTP", () => {
    it("truncated protobuf → 400 with a protobuf Status", async () => {
      const bytes = validRequest();
      const res = await post(bytes.subarray(0, bytes.length - 4), {
        "content-type": "application/x-protobuf",
      });
      expect(res.status).toBe(400);
      const status = await protoStatus(res);
      expect(status.code).toBe(3);
      expect(status.message).toMatch(/cannot decode ExportLogsServiceRequest/);
      await stillServing();
    });

    it("invalid JSON → 400 with a JSON Status", async () => {
      const res = await post('{"resourceLogs": [', { "content-type": "application/json" });
      expect(res.status).toBe(400);
      expect((await jsonStatus(res)).message).toMatch(/invalid JSON|JSON/);
      await stillServing();
    });

    it("JSON that breaks the data model → 400 naming the field", async () => {
      const res = await post(
        JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ traceId: "zz" }] }] }] }),
        {
          "content-type": "application/json",
        },
      );
      expect(res.status).toBe(400);
      expect((await jsonStatus(res)).message).toMatch(/traceId/);
      await stillServing();
    });

    it("bad gzip → 400", async () => {
      const res = await post(validRequest(), {
        "content-type": "application/x-protobuf",
        "content-encoding": "gzip",
      });
      expect(res.status).toBe(400);
      expect((await protoStatus(res)).message).toMatch(/cannot decompress gzip/);
      await stillServing();
    });

    it("wrong content type → 415", async () => {
      const res = await post("hello", { "content-type": "text/plain" });
      expect(res.status).toBe(415);
      expect((await jsonStatus(res)).message).toMatch(/unsupported content type "text\/plain"/);
      await stillServing();
    });

    it("unsupported content encoding → 415", async () => {
      const res = await post(validRequest(), {
        "content-type": "application/x-protobuf",
        "content-encoding": "br",
      });
      expect(res.status).toBe(415);
      await stillServing();
    });

    it("body over the limit → 413", async () => {
      const res = await post(validRequest("x".repeat(LIMIT + 10)), {
        "content-type": "application/x-protobuf",
      });
      expect(res.status).toBe(413);
      expect((await protoStatus(res)).message).toMatch(/max_request_body_size/);
      await stillServing();
    });

    it("gzip body that inflates over the limit → 413", async () => {
      const bomb = gzipSync(validRequest("x".repeat(LIMIT * 4)));
      expect(bomb.length).toBeLessThan(LIMIT);
      const res = await post(bomb, { "content-type": "application/x-protobuf", "content-encoding": "gzip" });
      expect(res.status).toBe(413);
      await stillServing();
    });

    it("empty request → 200 success with an empty response, nothing appended (OTLP: SHOULD respond with success)", async () => {
      const before = (await readEmbedded(embeddedLogPath(gw.config), gw.config.log.topics.logs)).length;
      const proto = await post(new Uint8Array(0), { "content-type": "application/x-protobuf" });
      expect(proto.status).toBe(200);
      expect(
        fromBinary(ExportLogsServiceResponseSchema, new Uint8Array(await proto.arrayBuffer())).partialSuccess,
      ).toBeUndefined();
      const json = await post("{}", { "content-type": "application/json" });
      expect(json.status).toBe(200);
      expect(await json.json()).toEqual({});
      const after = (await readEmbedded(embeddedLogPath(gw.config), gw.config.log.topics.logs)).length;
      expect(after).toBe(before);
    });

    it("empty JSON body is not JSON → 400", async () => {
      const res = await post("", { "content-type": "application/json" });
      expect(res.status).toBe(400);
      await jsonStatus(res);
    });

    it("records with a bad trace_id → 200 with partial_success, the rest accepted", async () => {
      const body = JSON.stringify({
        resourceLogs: [
          {
            resource: { attributes: [{ key: "service.name", value: { stringValue: "partial" } }] },
            scopeLogs: [
              {
                logRecords: [
                  { body: { stringValue: "good" } },
                  // Valid hex of the wrong length: decodable, but not a trace id.
                  { body: { stringValue: "bad" }, traceId: "0102" },
                ],
              },
            ],
          },
        ],
      });
      // Over JSON a trace id of the wrong length fails the JSON mapping itself (400, naming the field)...
      const res = await post(body, { "content-type": "application/json" });
      expect(res.status).toBe(400);
      expect((await jsonStatus(res)).message).toMatch(/traceId: expected 32 hex characters/);
      // ...over protobuf it decodes, so that record alone is rejected through partial success.
      const proto = await post(validRequest("bad-trace", { traceId: new Uint8Array([1, 2]) }), {
        "content-type": "application/x-protobuf",
      });
      expect(proto.status).toBe(200);
      const response = fromBinary(ExportLogsServiceResponseSchema, new Uint8Array(await proto.arrayBuffer()));
      expect(response.partialSuccess?.rejectedLogRecords).toBe(1n);
      expect(response.partialSuccess?.errorMessage).toMatch(/trace_id/);
      const dead = await readEmbedded(embeddedLogPath(gw.config), gw.config.log.topics.dead_letter);
      expect(dead.length).toBeGreaterThan(0);
    });

    it("GET on the logs path → 405, unknown path → 404", async () => {
      expect((await fetch(`${gw.http}/v1/logs`)).status).toBe(405);
      expect((await fetch(`${gw.http}/v1/traces`, { method: "POST" })).status).toBe(404);
    });

    it("answers in the request's encoding on success", async () => {
      const res = await post(JSON.stringify({ resourceLogs: [] }), { "content-type": "application/json" });
      expect(res.headers.get("content-type")).toMatch(/application\/json/);
      const res2 = await post(validRequest(), { "content-type": "application/x-protobuf" });
      expect(res2.headers.get("content-type")).toMatch(/application\/x-protobuf/);
    });
  });

  describe("OTLP/gRPC", () => {
    it("truncated protobuf → INVALID_ARGUMENT with a Status in grpc-status-details-bin", async () => {
      const client = rawGrpcClient(gw.grpc);
      const bytes = validRequest();
      const res = await client.export(bytes.subarray(0, bytes.length - 4));
      expect(res.code).toBe(3);
      const details = res.trailers?.get("grpc-status-details-bin")[0] as Buffer;
      expect(fromBinary(StatusSchema, new Uint8Array(details)).code).toBe(3);
      expect((await client.export(validRequest())).code).toBe(0);
      client.close();
    });

    it("a message over the limit → RESOURCE_EXHAUSTED, and the next call succeeds", async () => {
      const client = rawGrpcClient(gw.grpc);
      const res = await client.export(validRequest("x".repeat(LIMIT + 100)));
      expect(res.code).toBe(8);
      expect((await client.export(validRequest())).code).toBe(0);
      client.close();
    });

    it("empty request → OK", async () => {
      const client = rawGrpcClient(gw.grpc);
      const res = await client.export(new Uint8Array(0));
      expect(res.code).toBe(0);
      client.close();
    });

    it("gzip-compressed request → OK", async () => {
      const client = rawGrpcClient(gw.grpc, { "grpc.default_compression_algorithm": 2 });
      const res = await client.export(validRequest("gzipped over grpc"));
      expect(res.code).toBe(0);
      client.close();
      const logs = await readEmbedded(embeddedLogPath(gw.config), gw.config.log.topics.logs);
      expect(logs.some((m) => Buffer.from(m.value).includes("gzipped over grpc"))).toBe(true);
    });

    it("garbage bytes → INVALID_ARGUMENT, gateway keeps serving", async () => {
      const client = rawGrpcClient(gw.grpc);
      expect((await client.export(Buffer.from("\xff\xff\xff\xff garbage"))).code).toBe(3);
      expect((await client.export(validRequest())).code).toBe(0);
      client.close();
    });
  });
});
