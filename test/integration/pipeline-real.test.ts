/**
 * End to end against real servers: OpenTelemetry SDK exporters → gateway →
 * Kafka → processors → OpenSearch, ClickHouse and an S3-compatible store,
 * each started by the project's own scripts on loopback.
 *
 * - every sink holds exactly the records routed to it, once, with fields
 *   intact, even after a client resends a batch;
 * - a sink stopped mid-stream grows only its own lag, nothing is lost, and
 *   it catches up to lag 0 after its restart;
 * - a garbage message written straight into the log topic, and a record
 *   that conflicts with the search mapping, go to the dead-letter topic with
 *   their reason while the records around them land.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import type { ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify as stringifyYaml } from "yaml";
import { buildConfig } from "../../core/config/load-config.js";
import { silentLogger } from "../../core/logging/logger.js";
import { decodeEnvelopeRecords } from "../../core/pipeline/decode-envelope.js";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { ExportLogsServiceRequestSchema } from "../../proto/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js";
import { ClickHouseServer } from "../../scripts/services/clickhouse.js";
import { OpenSearchServer } from "../../scripts/services/opensearch.js";
import { S3Server } from "../../scripts/services/s3.js";
import { registry } from "../../service/components.js";
import { type RunningService, startService } from "../../service/service.js";
import { auditSink, countIds } from "../support/embedded-sinks.js";
import { freePort } from "../support/ports.js";
import { type Child, requireBuild, runSluice, stopChild, waitReady } from "../support/processes.js";
import { decodeDeadLetter, readKafka } from "../support/read-log.js";
import { clickHouseIds, openSearchIds, s3Records } from "../support/real-sinks.js";
import { createExporter, exportRecords, isSuccess, SDK_PROTOCOLS, sdkRecords } from "../support/sdk.js";

const CLEAN = { missing: [], duplicated: [], unexpected: [] };
const run = Date.now();
const topics = { logs: `e2e-logs-${run}`, events: `e2e-events-${run}`, dead_letter: `e2e-dlq-${run}` };
const database = `otel_e2e_${run}`;
const bucket = "sluice-archive";

/** events → ClickHouse; logs at INFO and above → OpenSearch; everything → S3. */
function expectedSinks(r: PipelineRecord): string[] {
  const out = ["s3"];
  if (r.kind === "events") out.push("clickhouse");
  if (r.kind === "logs" && r.severityNumber >= 9) out.push("opensearch");
  return out;
}

describe("pipeline against real Kafka, OpenSearch, ClickHouse and S3", () => {
  const dirs: string[] = [];
  let opensearch: OpenSearchServer;
  let clickhouse: ClickHouseServer;
  let s3: S3Server;
  let service: RunningService;
  let http: string;
  let grpc: string;
  const bootstrap = inject("kafkaBootstrap");

  const tmp = (name: string) => {
    const d = mkdtempSync(join(tmpdir(), `sluice-${name}-`));
    dirs.push(d);
    return d;
  };

  beforeAll(async () => {
    opensearch = new OpenSearchServer({ dataDir: tmp("opensearch") });
    clickhouse = new ClickHouseServer({ dataDir: tmp("clickhouse") });
    s3 = new S3Server({ dataDir: tmp("s3") });
    await Promise.all([opensearch.start(), clickhouse.start(), s3.start()]);
    const config = buildConfig(
      {
        receivers: {
          otlp: { protocols: { grpc: { endpoint: "127.0.0.1:0" }, http: { endpoint: "127.0.0.1:0" } } },
        },
        log: { backend: "kafka", kafka: { brokers: [bootstrap], partitions: 3 }, topics },
        processors: {
          dedup: {},
          route: {
            rules: [
              { when: { kind: "events" }, exporters: ["clickhouse"] },
              { when: { kind: "logs", severity_at_least: "INFO" }, exporters: ["opensearch"] },
              { when: {}, exporters: ["s3"] },
            ],
          },
        },
        exporters: {
          opensearch: {
            endpoints: [opensearch.url],
            batch: { max_records: 500, linger: "100ms" },
            retry_on_failure: { initial_interval: "100ms", max_interval: "1s" },
          },
          clickhouse: {
            endpoint: clickhouse.url,
            database,
            batch: { max_records: 500, linger: "100ms" },
            retry_on_failure: { initial_interval: "100ms", max_interval: "1s" },
          },
          s3: {
            bucket,
            endpoint: s3.endpoint,
            region: s3.region,
            force_path_style: true,
            create_bucket: true,
            credentials: { access_key_id: s3.accessKeyId, secret_access_key: s3.secretAccessKey },
            batch: { max_records: 500, linger: "100ms" },
            retry_on_failure: { initial_interval: "100ms", max_interval: "1s" },
          },
        },
        pipelines: {
          logs: {
            receivers: ["otlp"],
            processors: ["dedup", "route"],
            exporters: ["opensearch", "clickhouse", "s3"],
          },
        },
        admin: { endpoint: "127.0.0.1:0" },
        telemetry: { log_level: "silent" },
      },
      { dataDir: tmp("data"), registry },
    );
    service = await startService(config, ["gateway", "processor"], silentLogger);
    http = `http://${service.endpoints["otlp/http"]}`;
    grpc = service.endpoints["otlp/grpc"] ?? "";
  });

  const children: Child[] = [];

  afterAll(async () => {
    for (const c of children) await stopChild(c);
    await service?.shutdown();
    await Promise.all([opensearch?.stop(), clickhouse?.stop(), s3?.stop()]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const lagOf = async () => {
    const lag = await service.lag();
    const by = new Map<string, bigint>();
    for (const l of lag) by.set(l.group, (by.get(l.group) ?? 0n) + l.lag);
    return by;
  };

  async function waitFor(cond: () => Promise<boolean>, what: string, timeoutMs = 120_000) {
    const end = Date.now() + timeoutMs;
    while (!(await cond())) {
      if (Date.now() > end)
        throw new Error(
          `timed out waiting for ${what}: ${JSON.stringify([...(await lagOf())].map(([g, l]) => [g, String(l)]))}`,
        );
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  const allCaughtUp = async () => {
    const by = await lagOf();
    return by.size === 3 && [...by.values()].every((l) => l === 0n);
  };

  async function send(prefix: string, n: number): Promise<ReadableLogRecord[]> {
    const sent: ReadableLogRecord[] = [];
    for (const protocol of SDK_PROTOCOLS) {
      const records = await sdkRecords(`${prefix}-${protocol.replace("/", "-")}`, n);
      const exporter = createExporter(protocol, { grpc, http });
      expect(isSuccess(await exportRecords(exporter, records))).toBe(true);
      if (protocol === "grpc") expect(isSuccess(await exportRecords(exporter, records))).toBe(true);
      await exporter.shutdown();
      sent.push(...records);
    }
    return sent;
  }

  async function recordsInKafka(from: {
    logs: string;
    events: string;
  }): Promise<Map<string, PipelineRecord>> {
    const out = new Map<string, PipelineRecord>();
    for (const [topic, kind] of [
      [from.logs, "logs"],
      [from.events, "events"],
    ] as const) {
      for (const m of await readKafka(bootstrap, topic)) {
        try {
          for (const r of decodeEnvelopeRecords(new Uint8Array(m.value), m, kind)) out.set(r.eventId, r);
        } catch {
          // the garbage message of the poison test
        }
      }
    }
    return out;
  }

  interface SinkTargets {
    indexPattern: string;
    database: string;
    prefix: string;
  }
  const mainTargets: SinkTargets = { indexPattern: "logs-*", database, prefix: "logs" };

  async function audit(
    excluded: Set<string> = new Set(),
    targets: SinkTargets = mainTargets,
    from: { logs: string; events: string } = topics,
  ) {
    const inLog = await recordsInKafka(from);
    const expected = { opensearch: new Set<string>(), clickhouse: new Set<string>(), s3: new Set<string>() };
    for (const r of inLog.values()) {
      for (const sink of expectedSinks(r)) {
        if (!(sink === "opensearch" && excluded.has(r.eventId)))
          expected[sink as keyof typeof expected].add(r.eventId);
      }
    }
    const found = {
      opensearch: await openSearchIds(opensearch.url, targets.indexPattern),
      clickhouse: await clickHouseIds(clickhouse.url, targets.database),
      s3: countIds(
        (
          await s3Records({
            endpoint: s3.endpoint,
            region: s3.region,
            accessKeyId: s3.accessKeyId,
            secretAccessKey: s3.secretAccessKey,
            bucket,
            prefix: targets.prefix,
          })
        ).map((x) => x.record.eventId),
      ),
    };
    for (const sink of ["opensearch", "clickhouse", "s3"] as const) {
      expect(auditSink(expected[sink], found[sink]), sink).toEqual(CLEAN);
    }
    return { inLog, expected };
  }

  it("lands every record exactly once in each sink it is routed to", async () => {
    const sent = await send("real", 40);
    await waitFor(allCaughtUp, "all sinks to catch up");
    const { inLog, expected } = await audit();
    expect(inLog.size).toBe(sent.length);
    console.log(
      `real sinks: ${inLog.size} records; opensearch ${expected.opensearch.size}, clickhouse ${expected.clickhouse.size}, s3 ${expected.s3.size}`,
    );
  });

  it("keeps the other sinks going while one is down, loses nothing, and catches up after", async () => {
    await clickhouse.stop();
    await send("outage", 20);
    await waitFor(async () => {
      const by = await lagOf();
      const ch = [...by].find(([g]) => g.endsWith(".clickhouse"))?.[1] ?? 0n;
      const others = [...by].filter(([g]) => !g.endsWith(".clickhouse")).every(([, l]) => l === 0n);
      return ch > 0n && others;
    }, "ClickHouse lag to grow while the other sinks catch up");
    // Stay down for longer than a consumer session (10 s), as real outages do: the group
    // must keep, or regain, its partitions rather than stall once ClickHouse is back.
    await new Promise((r) => setTimeout(r, 15_000));
    await clickhouse.start();
    await waitFor(allCaughtUp, "ClickHouse to catch up after its restart");
    await audit();
  });

  it("dead-letters a garbage message and a mapping conflict, while their neighbours land", async () => {
    const kafka = new Kafka({ brokers: [bootstrap], clientId: "poison", logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: topics.logs,
      messages: [{ key: "poison", value: Buffer.from("not an envelope \u0000\u00ff") }],
    });
    await producer.disconnect();
    // A keyword term over 32766 bytes is refused by the search index for that document alone.
    const immense = create(ExportLogsServiceRequestSchema, {
      resourceLogs: [
        {
          resource: {
            attributes: [
              { key: "service.name", value: { value: { case: "stringValue", value: "immense" } } },
            ],
          },
          scopeLogs: [
            {
              logRecords: [
                {
                  timeUnixNano: BigInt(Date.now()) * 1_000_000n,
                  severityNumber: 17,
                  severityText: "ERROR",
                  body: { value: { case: "stringValue", value: "record with an immense attribute" } },
                  attributes: [
                    {
                      key: "stack.dump",
                      value: { value: { case: "stringValue", value: "x".repeat(40_000) } },
                    },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
    const res = await fetch(`${http}/v1/logs`, {
      method: "POST",
      body: Buffer.from(toBinary(ExportLogsServiceRequestSchema, immense)),
      headers: { "content-type": "application/x-protobuf" },
    });
    expect(res.status).toBe(200);
    await send("after-poison", 5);
    await waitFor(allCaughtUp, "sinks to catch up past the poison records");

    const dead = (await readKafka(bootstrap, topics.dead_letter)).map((m) => decodeDeadLetter(m.value));
    const garbage = dead.filter((d) => d.reasonCode === "UNDECODABLE_MESSAGE");
    expect(garbage).toHaveLength(1);
    expect(garbage[0]?.reason).toMatch(/cannot decode envelope/);
    expect(garbage[0]?.sourceTopic).toBe(topics.logs);
    expect(Buffer.from(garbage[0]?.payload ?? []).toString("latin1")).toMatch(/not an envelope/);
    const conflicts = dead.filter((d) => d.reasonCode === "SINK_MAPPING_CONFLICT");
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]?.stage).toBe("logs/opensearch");
    expect(conflicts[0]?.reason).toMatch(/immense term/);
    const [refused] = decodeEnvelopeRecords(
      conflicts[0]?.payload ?? new Uint8Array(),
      conflicts[0] as never,
      "logs",
    );
    expect(refused?.body).toBe("record with an immense attribute");
    // Everything else, the refused record's copies in the other sinks included, landed exactly once.
    await audit(new Set([refused?.eventId ?? ""]));
  });

  for (const victim of ["opensearch", "clickhouse", "s3"] as const) {
    it(`a processor killed with kill -9 after a ${victim} write and before the commit replays with no duplicates`, async () => {
      requireBuild();
      // Own topics, gateway and sinks, as `sluice gateway` and `sluice process` processes.
      const name = `crash-${victim}`;
      const crashTopics = {
        logs: `${name}-logs-${run}`,
        events: `${name}-events-${run}`,
        dead_letter: `${name}-dlq-${run}`,
      };
      const targets: SinkTargets = {
        indexPattern: `${name}-*`,
        database: `otel_${name.replace("-", "_")}_${run}`,
        prefix: name,
      };
      const dir = tmp(name);
      const [grpcPort, httpPort, gatewayAdmin, processAdmin] = [
        await freePort(),
        await freePort(),
        await freePort(),
        await freePort(),
      ];
      const sink = (type: string) => `${type}/${name}`;
      const config = (adminPort: number) => ({
        receivers: {
          otlp: {
            protocols: {
              grpc: { endpoint: `127.0.0.1:${grpcPort}` },
              http: { endpoint: `127.0.0.1:${httpPort}` },
            },
          },
        },
        log: { backend: "kafka", kafka: { brokers: [bootstrap], partitions: 2 }, topics: crashTopics },
        processors: {
          dedup: {},
          route: {
            rules: [
              { when: { kind: "events" }, exporters: [sink("clickhouse")] },
              { when: { kind: "logs", severity_at_least: "INFO" }, exporters: [sink("opensearch")] },
              { when: {}, exporters: [sink("s3")] },
            ],
          },
        },
        exporters: {
          [sink("opensearch")]: { endpoints: [opensearch.url], logs_index: `${name}-{dataset}-{namespace}` },
          [sink("clickhouse")]: { endpoint: clickhouse.url, database: targets.database },
          [sink("s3")]: {
            bucket,
            prefix: name,
            endpoint: s3.endpoint,
            region: s3.region,
            force_path_style: true,
            credentials: { access_key_id: s3.accessKeyId, secret_access_key: s3.secretAccessKey },
          },
        },
        pipelines: {
          logs: {
            receivers: ["otlp"],
            processors: ["dedup", "route"],
            exporters: [sink("opensearch"), sink("clickhouse"), sink("s3")],
          },
        },
        admin: { endpoint: `127.0.0.1:${adminPort}` },
        telemetry: { log_level: "warn" },
      });
      const gatewayConfig = join(dir, "gateway.yaml");
      const processConfig = join(dir, "process.yaml");
      writeFileSync(gatewayConfig, stringifyYaml(config(gatewayAdmin)));
      writeFileSync(processConfig, stringifyYaml(config(processAdmin)));
      const dataDir = join(dir, "data");

      const gateway = runSluice(["gateway", "--config", gatewayConfig, "--data-dir", dataDir]);
      children.push(gateway);
      await waitReady(`http://127.0.0.1:${gatewayAdmin}`, gateway);
      const records = await sdkRecords(name, 120);
      const exporter = createExporter("http/protobuf", {
        grpc: `127.0.0.1:${grpcPort}`,
        http: `http://127.0.0.1:${httpPort}`,
      });
      for (let i = 0; i < records.length; i += 20) {
        expect(isSuccess(await exportRecords(exporter, records.slice(i, i + 20)))).toBe(true);
      }
      await exporter.shutdown();

      const marker = join(dir, "failpoint-fired");
      const env = { SLUICE_FAILPOINT_KILL_AFTER_WRITE: `${sink(victim)}:${marker}` };
      const args = ["process", "--config", processConfig, "--data-dir", dataDir];
      const first = runSluice(args, env);
      children.push(first);
      const ended = await first.exited;
      expect(ended.signal, first.output()).toBe("SIGKILL");
      expect(existsSync(marker)).toBe(true);
      const second = runSluice(args, env);
      children.push(second);
      await waitReady(`http://127.0.0.1:${processAdmin}`, second);
      const deadline = Date.now() + 120_000;
      for (;;) {
        const res = await fetch(`http://127.0.0.1:${processAdmin}/api/lag`).catch(() => undefined);
        const body = res?.ok
          ? ((await res.json()) as { lag: { group: string; lag: string }[] })
          : { lag: [] };
        const groups = new Set(body.lag.map((l) => l.group));
        if (groups.size === 3 && body.lag.every((l) => l.lag === "0")) break;
        if (Date.now() > deadline) throw new Error(`crash pipeline never caught up:\n${second.output()}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      await stopChild(second);
      await stopChild(gateway);
      const { inLog } = await audit(new Set(), targets, crashTopics);
      expect(inLog.size).toBe(records.length);
    });
  }
});
