import { Gauge, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  DROPPED_RECORDS,
  droppedRecordsCounter,
  PROCESSED_RECORDS,
  ProcessorStats,
  processedRecordsCounter,
} from "./metrics.js";

describe("processor metrics", () => {
  it("creates the counters once per registry and shares them between instances", async () => {
    const registry = new Registry();
    expect(droppedRecordsCounter(registry)).toBe(droppedRecordsCounter(registry));
    expect(processedRecordsCounter(registry)).toBe(processedRecordsCounter(registry));
    const a = new ProcessorStats(registry, "filter/a");
    const b = new ProcessorStats(registry, "filter/b");
    a.processed(3);
    b.processed(2);
    a.droppedRecords("debug", 2);
    a.droppedRecords("debug");
    b.droppedRecords("sampled", 0);
    const text = await registry.metrics();
    expect(text).toContain(`${PROCESSED_RECORDS}{processor="filter/a"} 3`);
    expect(text).toContain(`${PROCESSED_RECORDS}{processor="filter/b"} 2`);
    expect(text).toContain(`${DROPPED_RECORDS}{processor="filter/a",reason="debug"} 3`);
    expect(text).not.toContain('reason="sampled"');
  });

  it("keeps registries apart", async () => {
    const [r1, r2] = [new Registry(), new Registry()];
    new ProcessorStats(r1, "p").processed(1);
    new ProcessorStats(r2, "p").processed(5);
    expect(await r1.metrics()).toContain(`${PROCESSED_RECORDS}{processor="p"} 1`);
    expect(await r2.metrics()).toContain(`${PROCESSED_RECORDS}{processor="p"} 5`);
  });

  it("refuses a name already registered as another metric type", () => {
    const registry = new Registry();
    new Gauge({ name: DROPPED_RECORDS, help: "x", registers: [registry] });
    expect(() => droppedRecordsCounter(registry)).toThrow(/registered with another type/);
  });
});
