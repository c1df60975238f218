/**
 * Starts one real Kafka broker (KRaft, loopback) for the integration tests
 * and stops it afterwards. The broker's jars are fetched on first use into
 * .cache/kafka; nothing has to be running beforehand.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { KafkaServer } from "../../scripts/services/kafka.js";

declare module "vitest" {
  export interface ProvidedContext {
    kafkaBootstrap: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dataDir = mkdtempSync(join(tmpdir(), "sluice-kafka-"));
  const kafka = new KafkaServer({ dataDir });
  await kafka.start();
  project.provide("kafkaBootstrap", kafka.bootstrap);
  return async () => {
    await kafka.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
}
