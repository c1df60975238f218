import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { batchOf, makeRecords, testDeps } from "./common/test-support.js";
import { embeddedExporterFactories } from "./embedded.js";

describe("embeddedExporterFactories", () => {
  it("registers the three embedded sinks, each working from an empty config", async () => {
    expect(embeddedExporterFactories.map((f) => f.type)).toEqual([
      "sqlite_search",
      "duckdb_warehouse",
      "file_archive",
    ]);
    const dataDir = mkdtempSync(join(tmpdir(), "sluice-embedded-"));
    try {
      const batch = batchOf(makeRecords(5, { firstOffset: 0n }));
      for (const f of embeddedExporterFactories) {
        const e = f.create(f.type, f.configSchema.parse({}), testDeps(dataDir));
        await e.start();
        expect(await e.write(batch)).toEqual({ failed: [] });
        expect(await e.write(batch)).toEqual({ failed: [] });
        await e.shutdown();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
