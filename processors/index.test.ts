import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CTX, testDeps, testRecord } from "./common/testing.js";
import { processorFactories, routeTargets } from "./index.js";

/** The smallest valid config of each type. */
const MINIMAL: Record<string, unknown> = {
  parse: { format: "json" },
  enrich: {},
  filter: {},
  sample: { rate: 1 },
  redact: {},
  route: { default_exporters: ["archive"] },
  dedup: {},
};

describe("processor registry", () => {
  it("registers the seven processors, each under its folder's name", () => {
    const types = processorFactories.map((f) => f.type);
    expect(types).toEqual(["parse", "enrich", "filter", "sample", "redact", "route", "dedup"]);
    const here = fileURLToPath(new URL(".", import.meta.url));
    const folders = readdirSync(here).filter((f) => f !== "common" && statSync(join(here, f)).isDirectory());
    expect(new Set(types)).toEqual(new Set(folders));
  });

  it("every factory builds a working processor from its minimal config", async () => {
    for (const factory of processorFactories) {
      const config = factory.configSchema.parse(MINIMAL[factory.type]);
      const p = factory.create(`${factory.type}/smoke`, config, testDeps());
      expect(p.name).toBe(`${factory.type}/smoke`);
      await p.start?.();
      expect(p.process([testRecord({ body: '{"a":1}' })], CTX)).toHaveLength(1);
      expect(p.process([], CTX)).toEqual([]);
      await p.shutdown?.();
    }
  });

  it("several instances of every type can share one process and registry", () => {
    const deps = testDeps();
    for (const factory of processorFactories) {
      const config = factory.configSchema.parse(MINIMAL[factory.type]);
      factory.create("a", config, deps);
      factory.create("b", config, deps);
    }
  });

  it("exports routeTargets for the pipeline builder", () => {
    expect(routeTargets({ rules: [{ exporters: ["a", "b"] }], default_exporters: ["b", "c"] })).toEqual([
      "a",
      "b",
      "c",
    ]);
  });
});
