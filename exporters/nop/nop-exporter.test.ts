import { describe, expect, it } from "vitest";
import { buildConfig } from "../../core/config/load-config.js";
import { isSluiceError } from "../../core/errors.js";
import { registry } from "../../service/components.js";
import { batchOf, makeRecords, testDeps } from "../common/test-support.js";
import { NopExporter, nopConfigSchema, nopExporterFactory } from "./nop-exporter.js";

describe("nop exporter", () => {
  it("accepts every batch, replays included, and keeps nothing", async () => {
    const e = nopExporterFactory.create("nop", nopConfigSchema.parse({}), testDeps("/nowhere"));
    await e.start();
    const batch = batchOf(makeRecords(50, { firstOffset: 0n }));
    expect(await e.write(batch)).toEqual({ failed: [] });
    expect(await e.write(batch)).toEqual({ failed: [] });
    expect(await e.write(batchOf([]))).toEqual({ failed: [] });
    await e.shutdown();
  });

  it("refuses writes before start and after shutdown, retryably after shutdown", async () => {
    const e = new NopExporter("nop/x");
    const batch = batchOf(makeRecords(1, { firstOffset: 0n }));
    await expect(e.write(batch)).rejects.toMatchObject({ code: "INTERNAL" });
    await e.start();
    await e.shutdown();
    const err = await e.write(batch).catch((x: unknown) => x);
    expect(isSluiceError(err) && err.retryable).toBe(true);
    await expect(e.start()).rejects.toBeDefined();
  });

  it("has no options of its own", () => {
    expect(nopConfigSchema.parse({})).toEqual({});
    expect(nopConfigSchema.safeParse({ path: "/tmp" }).success).toBe(false);
  });

  it("is registered: a pipeline can name nop and nop/<name>, with batch and retry settings", () => {
    const config = buildConfig(
      {
        receivers: { otlp: {} },
        exporters: { nop: {}, "nop/drain": { batch: { max_records: 10, linger: "0ms" } } },
        pipelines: { logs: { receivers: ["otlp"], exporters: ["nop", "nop/drain"] } },
      },
      { dataDir: "/tmp/sluice-nop-test", registry },
    );
    expect(config.exporterInstances.get("nop")?.factory.type).toBe("nop");
    expect(config.exporterInstances.get("nop/drain")?.batch).toEqual({
      maxRecords: 10,
      maxBytes: 4 * 1024 * 1024,
      lingerMs: 0,
    });
  });
});
