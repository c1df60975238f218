/**
 * Unit test of the ingest path's backpressure with a controllable stand-in
 * for the log (the real backends are exercised by the integration tests).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ErrorCode, SluiceError } from "../../core/errors.js";
import { Metrics } from "../../core/metrics.js";
import type { LogMessage, LogWriter } from "../../log/log.js";
import { ExportLogsServiceRequestSchema } from "../../proto/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js";
import { SourceProtocol } from "./envelope-writer.js";
import { InflightLimiter } from "./inflight-limiter.js";
import { IngestService } from "./ingest-service.js";

class ControlledLog implements LogWriter {
  healthy = true;
  pending: {
    topic: string;
    messages: readonly LogMessage[];
    resolve: () => void;
    reject: (e: unknown) => void;
  }[] = [];
  async start() {}
  append(topic: string, messages: readonly LogMessage[]) {
    return new Promise<void>((resolve, reject) => this.pending.push({ topic, messages, resolve, reject }));
  }
  isHealthy() {
    return this.healthy;
  }
  async shutdown() {}
}

const request = (n = 1) =>
  toBinary(
    ExportLogsServiceRequestSchema,
    create(ExportLogsServiceRequestSchema, {
      resourceLogs: [
        {
          resource: {
            attributes: [{ key: "service.name", value: { value: { case: "stringValue", value: "s" } } }],
          },
          scopeLogs: [{ logRecords: Array.from({ length: n }, () => ({ severityText: "INFO" })) }],
        },
      ],
    }),
  );

const ctx = { receiver: "otlp", sourceProtocol: SourceProtocol.OTLP_GRPC, tenant: "" };

function setup(maxBytes: number, appendTimeoutMs = 60_000, maxEnvelopeBytes?: number) {
  const log = new ControlledLog();
  const metrics = new Metrics({ processMetrics: false });
  const limiter = new InflightLimiter(maxBytes);
  const ingest = new IngestService(log, limiter, metrics, {
    topics: { logs: "l", events: "e", deadLetter: "d" },
    key: { from: "resource", attribute: Buffer.from("service.name") },
    appendTimeoutMs,
    retryAfterMs: 1500,
    backend: "test",
    maxEnvelopeBytes,
  });
  return { log, limiter, ingest, metrics };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("IngestService", () => {
  it("answers only after the append is durable", async () => {
    const { log, ingest } = setup(1 << 20);
    let done = false;
    const p = ingest.ingest(request(3), ctx).then((o) => {
      done = true;
      return o;
    });
    await tick();
    expect(done).toBe(false);
    expect(log.pending).toHaveLength(1);
    log.pending[0]?.resolve();
    expect(await p).toEqual({ acceptedRecords: 3, rejectedRecords: 0, errorMessage: "" });
  });

  it("refuses with a retryable OVERLOADED once in-flight bytes reach the bound, and admits again after", async () => {
    const body = request(50);
    const { log, ingest, limiter, metrics } = setup(body.length * 2 + 10);
    const first = ingest.ingest(body, ctx);
    const second = ingest.ingest(body, ctx);
    await expect(ingest.ingest(body, ctx)).rejects.toMatchObject({
      code: ErrorCode.OVERLOADED,
      retryable: true,
      retryAfterMs: 1500,
    });
    expect(limiter.usedBytes).toBe(body.length * 2);
    for (const p of log.pending) p.resolve();
    await Promise.all([first, second]);
    expect(limiter.usedBytes).toBe(0);
    const third = ingest.ingest(body, ctx);
    await tick();
    log.pending[2]?.resolve();
    await expect(third).resolves.toMatchObject({ acceptedRecords: 50 });
    const refused = await metrics.registry.getSingleMetricAsString("sluice_receiver_refused_requests_total");
    expect(refused).toMatch(/reason="overloaded"} 1/);
  });

  it("keeps bytes counted after an append timeout until the log settles, so a stalled log cannot grow memory", async () => {
    const body = request(10);
    const { log, ingest, limiter } = setup(body.length + 1, 20);
    await expect(ingest.ingest(body, ctx)).rejects.toMatchObject({
      code: ErrorCode.LOG_UNAVAILABLE,
      retryable: true,
    });
    expect(limiter.usedBytes).toBe(body.length);
    await expect(ingest.ingest(body, ctx)).rejects.toMatchObject({ code: ErrorCode.OVERLOADED });
    log.pending[0]?.resolve();
    await tick();
    expect(limiter.usedBytes).toBe(0);
  });

  it("refuses at once with LOG_UNAVAILABLE while the log is unhealthy", async () => {
    const { log, ingest } = setup(1 << 20);
    log.healthy = false;
    await expect(ingest.ingest(request(), ctx)).rejects.toMatchObject({
      code: ErrorCode.LOG_UNAVAILABLE,
      retryable: true,
    });
    expect(log.pending).toHaveLength(0);
  });

  it("turns a failed append into a retryable refusal and releases the bytes", async () => {
    const { log, ingest, limiter } = setup(1 << 20);
    const p = ingest.ingest(request(), ctx);
    await tick();
    log.pending[0]?.reject(new Error("disk on fire"));
    await expect(p).rejects.toMatchObject({ code: ErrorCode.LOG_UNAVAILABLE, retryable: true });
    await tick();
    expect(limiter.usedBytes).toBe(0);
  });

  it("releases the bytes of an undecodable request and reports MALFORMED_PAYLOAD", async () => {
    const { ingest, limiter } = setup(1 << 20);
    const err = await ingest.ingest(Buffer.from([0x0a, 0x50, 0x01]), ctx).catch((e) => e);
    expect(err).toBeInstanceOf(SluiceError);
    expect(err.code).toBe(ErrorCode.MALFORMED_PAYLOAD);
    expect(err.retryable).toBe(false);
    expect(limiter.usedBytes).toBe(0);
  });

  it("refuses a ResourceLogs larger than the log's message limit as PAYLOAD_TOO_LARGE, appending nothing", async () => {
    const { log, ingest, limiter } = setup(1 << 20, 60_000, 2048);
    expect(request(1000).length).toBeGreaterThan(4096);
    await expect(ingest.ingest(request(1000), ctx)).rejects.toMatchObject({
      code: ErrorCode.PAYLOAD_TOO_LARGE,
      retryable: false,
    });
    expect(log.pending).toHaveLength(0);
    expect(limiter.usedBytes).toBe(0);
    const small = ingest.ingest(request(2), ctx);
    await tick();
    log.pending[0]?.resolve();
    await expect(small).resolves.toMatchObject({ acceptedRecords: 2 });
  });

  it("stops admitting after close()", async () => {
    const { ingest } = setup(1 << 20);
    ingest.close();
    await expect(ingest.ingest(request(), ctx)).rejects.toMatchObject({
      code: ErrorCode.SHUTTING_DOWN,
      retryable: true,
    });
  });
});
