/**
 * The consumer loop over a real embedded log, with a scripted exporter
 * standing in for a sink (a unit test of the runner alone; real sinks have
 * their own tests): commit only after the write, retries with backoff,
 * replays after a stop, and dead letters for poison messages and refused
 * records.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode, SluiceError } from "../core/errors.js";
import { silentLogger } from "../core/logging/logger.js";
import { Metrics } from "../core/metrics.js";
import type { ExportBatch, Exporter, ExportResult } from "../core/pipeline/component.js";
import { decodeEnvelopeRecords } from "../core/pipeline/decode-envelope.js";
import { EmbeddedLog } from "../log/embedded/embedded-log.js";
import { DeadLetterSchema, EnvelopeSchema } from "../proto/gen/sluice/log/v1/envelope_pb.js";
import { DeadLetterWriter } from "./dead-letter-writer.js";
import { EmbeddedLogSource } from "./embedded-source.js";
import { type BatchControl, type BatchHandler, HandlerAborted, type LogSource } from "./log-source.js";
import { SinkRunner } from "./sink-runner.js";

class ScriptedExporter implements Exporter {
  readonly name = "scripted";
  written: ExportBatch[] = [];
  failNext = 0;
  refuse = new Set<string>();
  async start() {}
  async shutdown() {}
  async write(batch: ExportBatch): Promise<ExportResult> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new SluiceError(ErrorCode.LOG_UNAVAILABLE, "sink down", { retryable: true });
    }
    this.written.push(batch);
    return {
      failed: batch.records
        .filter((r) => this.refuse.has(String(r.body)))
        .map((record) => ({ record, code: "SINK_MAPPING_CONFLICT", reason: "field type conflict" })),
    };
  }
}

function envelope(body: string): Uint8Array {
  return toBinary(
    EnvelopeSchema,
    create(EnvelopeSchema, {
      resourceLogs: {
        resource: {
          attributes: [{ key: "service.name", value: { value: { case: "stringValue", value: "svc" } } }],
        },
        scopeLogs: [{ logRecords: [{ body: { value: { case: "stringValue", value: body } } }] }],
      },
    }),
  );
}

const logs: EmbeddedLog[] = [];
const runners: SinkRunner[] = [];
afterEach(async () => {
  for (const r of runners.splice(0)) await r.stop();
  for (const l of logs.splice(0)) await l.shutdown();
});

async function setup(exporter: ScriptedExporter) {
  const log = new EmbeddedLog({
    path: join(mkdtempSync(join(tmpdir(), "sluice-runner-")), "log.db"),
    partitions: 1,
    retention: { maxAgeMs: undefined, maxBytes: undefined },
  });
  await log.start();
  logs.push(log);
  const metrics = new Metrics({ processMetrics: false });
  const makeRunner = () => {
    const runner = new SinkRunner({
      pipeline: "logs",
      exporter,
      processors: [],
      source: new EmbeddedLogSource(log, {
        group: "g",
        topics: ["in"],
        maxBatchMessages: 100,
        lingerMs: 0,
        pollMs: 10,
      }),
      deadLetters: new DeadLetterWriter(log, "dlq", metrics),
      topicKinds: new Map([["in", "logs"]]),
      reportsUndecodable: true,
      retry: { initialIntervalMs: 10, maxIntervalMs: 40 },
      metrics,
      logger: silentLogger,
    });
    runners.push(runner);
    return runner;
  };
  return { log, metrics, makeRunner };
}

async function until(cond: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not reached");
    await new Promise((r) => setTimeout(r, 10));
  }
}

const key = Buffer.from("svc");

describe("SinkRunner", () => {
  it("writes batches and commits after the write", async () => {
    const exporter = new ScriptedExporter();
    const { log, makeRunner } = await setup(exporter);
    await log.append("in", [
      { key, value: envelope("a") },
      { key, value: envelope("b") },
    ]);
    await makeRunner().start();
    await until(() => log.committed("g", "in", 0) === 2n);
    const bodies = exporter.written.flatMap((b) => b.records.map((r) => r.body));
    expect(bodies).toEqual(["a", "b"]);
    expect(exporter.written[0]).toMatchObject({ topic: "in", partition: 0, firstOffset: 0n, lastOffset: 1n });
  });

  it("retries a retryable failure with backoff, then commits", async () => {
    const exporter = new ScriptedExporter();
    exporter.failNext = 3;
    const { log, metrics, makeRunner } = await setup(exporter);
    await log.append("in", [{ key, value: envelope("a") }]);
    await makeRunner().start();
    await until(() => log.committed("g", "in", 0) === 1n);
    expect(exporter.written).toHaveLength(1);
    expect(await metrics.registry.getSingleMetricAsString("sluice_exporter_retries_total")).toMatch(/} 3$/m);
  });

  it("does not commit a batch whose write never succeeded; a new runner replays it from the same offset", async () => {
    const exporter = new ScriptedExporter();
    exporter.failNext = 1_000_000;
    const { log, makeRunner } = await setup(exporter);
    await log.append("in", [{ key, value: envelope("a") }]);
    const first = makeRunner();
    await first.start();
    await new Promise((r) => setTimeout(r, 200));
    await first.stop();
    runners.splice(runners.indexOf(first), 1);
    expect(log.committed("g", "in", 0)).toBeUndefined();
    exporter.failNext = 0;
    await makeRunner().start();
    await until(() => log.committed("g", "in", 0) === 1n);
    expect(exporter.written[0]?.firstOffset).toBe(0n);
  });

  it("dead-letters an undecodable message and a refused record; their neighbours are written", async () => {
    const exporter = new ScriptedExporter();
    exporter.refuse.add("poison-record");
    const { log, makeRunner } = await setup(exporter);
    await log.append("in", [
      { key, value: envelope("before") },
      { key, value: Buffer.from("this is not an envelope \xff\xff") },
      { key, value: envelope("poison-record") },
      { key, value: envelope("after") },
    ]);
    await makeRunner().start();
    await until(() => log.committed("g", "in", 0) === 4n);
    const written = exporter.written.flatMap((b) => b.records.map((r) => r.body));
    expect(written).toEqual(["before", "poison-record", "after"]);
    const dead = log.read("dlq", 0, 0n, 10).map((m) => fromBinary(DeadLetterSchema, new Uint8Array(m.value)));
    expect(dead.map((d) => d.reasonCode).sort()).toEqual(["SINK_MAPPING_CONFLICT", "UNDECODABLE_MESSAGE"]);
    const undecodable = dead.find((d) => d.reasonCode === "UNDECODABLE_MESSAGE");
    expect(undecodable).toMatchObject({
      sourceTopic: "in",
      sourcePartition: 0,
      sourceOffset: 1n,
      stage: "logs",
    });
    expect(Buffer.from(undecodable?.payload ?? []).toString("latin1")).toMatch(/not an envelope/);
    const refused = dead.find((d) => d.reasonCode === "SINK_MAPPING_CONFLICT");
    expect(refused?.reason).toBe("field type conflict");
    expect(refused?.stage).toBe("logs/scripted");
    const back = decodeEnvelopeRecords(
      refused?.payload ?? new Uint8Array(),
      { topic: "dlq", partition: 0, offset: 0n },
      "logs",
    );
    expect(back[0]?.body).toBe("poison-record");
  });
});

/** A source that hands over one batch on demand, so the test holds the control. */
class HandOverSource implements LogSource {
  readonly group = "g";
  handler: BatchHandler | undefined;
  async start(handler: BatchHandler) {
    this.handler = handler;
  }
  async stop() {}
  async lag() {
    return [];
  }
}

describe("SinkRunner during a long sink write", () => {
  async function longWrite(heartbeat: () => Promise<void>) {
    const exporter = new ScriptedExporter();
    const slowWrite = exporter.write.bind(exporter);
    exporter.write = async (b) => {
      await new Promise((r) => setTimeout(r, 300));
      return slowWrite(b);
    };
    const source = new HandOverSource();
    const metrics = new Metrics({ processMetrics: false });
    const runner = new SinkRunner({
      pipeline: "logs",
      exporter,
      processors: [],
      source,
      deadLetters: { records: async () => {}, undecodable: async () => {} } as unknown as DeadLetterWriter,
      topicKinds: new Map([["in", "logs"]]),
      reportsUndecodable: false,
      retry: { initialIntervalMs: 10, maxIntervalMs: 40 },
      metrics,
      logger: silentLogger,
      heartbeatIntervalMs: 50,
    });
    await runner.start();
    const control: BatchControl = { isActive: () => true, heartbeat };
    const batch = {
      topic: "in",
      partition: 0,
      messages: [{ topic: "in", partition: 0, offset: 0n, key, value: envelope("a") }],
    };
    return { exporter, done: source.handler?.(batch, control) };
  }

  it("heartbeats the group while the write runs", async () => {
    let beats = 0;
    const { exporter, done } = await longWrite(async () => {
      beats++;
    });
    await done;
    expect(exporter.written).toHaveLength(1);
    expect(beats).toBeGreaterThanOrEqual(3);
  });

  it("does not let the batch commit when a heartbeat failed during the write", async () => {
    const { exporter, done } = await longWrite(async () => {
      throw new Error("The coordinator is not aware of this member");
    });
    await expect(done).rejects.toBeInstanceOf(HandlerAborted);
    expect(exporter.written).toHaveLength(1);
  });
});
