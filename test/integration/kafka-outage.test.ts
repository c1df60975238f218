/**
 * Kafka stopped mid-stream: clients get retryable refusals (HTTP 503 with
 * Retry-After, gRPC UNAVAILABLE), nothing is acknowledged that is not in
 * Kafka, and once Kafka is back ingestion resumes without any restart of
 * the gateway.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KafkaServer } from "../../scripts/services/kafka.js";
import { startGateway, type TestGateway } from "../support/gateway.js";
import { rawGrpcClient } from "../support/raw-grpc.js";
import { readKafka } from "../support/read-log.js";
import { seqCounts, seqRequest } from "../support/seq-requests.js";

const RECORDS_PER_REQUEST = 10;
const WORKERS = 4;
const DEADLINE_MS = 150_000;

type Outcome = "ok" | "retryable" | "permanent";

describe("Kafka stopped mid-stream", () => {
  let kafka: KafkaServer;
  let gw: TestGateway;
  let dataDir: string;
  const topic = "outage-logs";

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "sluice-kafka-outage-"));
    kafka = new KafkaServer({ dataDir });
    await kafka.start();
    gw = await startGateway({
      log: {
        backend: "kafka",
        kafka: { brokers: [kafka.bootstrap], partitions: 2, request_timeout: "5s" },
        topics: { logs: topic, events: "outage-events", dead_letter: "outage-dlq" },
      },
      gateway: { append_timeout: "5s", retry_after: "1s" },
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await kafka?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("refuses retryably while Kafka is down, loses nothing acknowledged, and resumes by itself", async () => {
    const acked = new Set<number>();
    const outcomes: Record<Outcome, number> = { ok: 0, retryable: 0, permanent: 0 };
    const permanentErrors: string[] = [];
    let phase: "before" | "down" | "after" = "before";
    const byPhase = {
      before: { ok: 0, retryable: 0 },
      down: { ok: 0, retryable: 0 },
      after: { ok: 0, retryable: 0 },
    };
    let nextSeq = 0;
    let stop = false;
    const grpc = rawGrpcClient(gw.grpc);

    const sendOne = async (worker: number): Promise<void> => {
      const first = nextSeq;
      nextSeq += RECORDS_PER_REQUEST;
      const body = seqRequest(`svc-${worker}`, first, RECORDS_PER_REQUEST);
      const requestPhase = phase;
      let outcome: Outcome;
      if (worker % 2 === 0) {
        const res = await fetch(`${gw.http}/v1/logs`, {
          method: "POST",
          body: Buffer.from(body),
          headers: { "content-type": "application/x-protobuf" },
        }).catch(() => undefined);
        if (res?.status === 200) outcome = "ok";
        else if (res && (res.status === 503 || res.status === 429)) {
          expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
          outcome = "retryable";
        } else {
          outcome = "permanent";
          permanentErrors.push(`http ${res?.status}`);
        }
      } else {
        const res = await grpc.export(body);
        if (res.code === 0) outcome = "ok";
        else if (res.code === 14 || res.code === 8) outcome = "retryable";
        else {
          outcome = "permanent";
          permanentErrors.push(`grpc ${res.code} ${res.details}`);
        }
      }
      outcomes[outcome]++;
      if (outcome !== "permanent") byPhase[requestPhase][outcome]++;
      if (outcome === "ok") for (let s = first; s < first + RECORDS_PER_REQUEST; s++) acked.add(s);
      else await new Promise((r) => setTimeout(r, 100));
    };

    const workers = Array.from({ length: WORKERS }, async (_, w) => {
      while (!stop) await sendOne(w);
    });

    const started = Date.now();
    const waitFor = async (cond: () => boolean, what: string) => {
      while (!cond()) {
        if (Date.now() - started > DEADLINE_MS) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    try {
      await waitFor(() => byPhase.before.ok >= 40, "acknowledgements before the outage");
      await kafka.stop();
      phase = "down";
      await waitFor(() => byPhase.down.retryable >= 20, "retryable refusals during the outage");
      await kafka.start();
      phase = "after";
      await waitFor(() => byPhase.after.ok >= 40, "acknowledgements after Kafka came back");
    } finally {
      stop = true;
      await Promise.all(workers);
      grpc.close();
    }

    expect(permanentErrors).toEqual([]);
    expect(byPhase.down.retryable).toBeGreaterThanOrEqual(20);
    expect(byPhase.after.ok).toBeGreaterThanOrEqual(40);

    const counts = seqCounts(await readKafka(kafka.bootstrap, topic));
    const missing = [...acked].filter((s) => !counts.has(s));
    expect(missing, `acknowledged records missing from Kafka`).toEqual([]);
    console.log(
      `kafka outage: ${outcomes.ok} requests acknowledged (${acked.size} records), ${outcomes.retryable} refused retryably` +
        ` (${byPhase.down.retryable} while Kafka was down), ${counts.size} distinct records in Kafka`,
    );
  });
});
