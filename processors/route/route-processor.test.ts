import { describe, expect, it } from "vitest";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { CTX, counterValue, testDeps, testRecord } from "../common/testing.js";
import { DROPPED_RECORDS } from "../metrics.js";
import { routeConfigSchema, routeProcessorFactory, routeTargets, UNROUTED } from "./index.js";

function router(config: Record<string, unknown>, deps = testDeps()) {
  return routeProcessorFactory.create("route", routeProcessorFactory.configSchema.parse(config), deps);
}

function configError(config: Record<string, unknown>): string {
  const r = routeConfigSchema.safeParse(config);
  if (r.success) throw new Error("expected the config to be refused");
  return r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n");
}

/** The README example. */
const EXAMPLE = {
  rules: [
    { name: "events", when: { kind: "events" }, exporters: ["warehouse"] },
    { name: "searchable", when: { kind: "logs", severity_at_least: "INFO" }, exporters: ["search"] },
    { name: "everything", when: {}, exporters: ["archive"] },
  ],
};

describe("route", () => {
  it("sends each record to the union of its matching rules, in order of first appearance", () => {
    const records = [
      testRecord({ kind: "events", eventName: "checkout.completed" }),
      testRecord({ kind: "logs", severityNumber: 9 }),
      testRecord({ kind: "logs", severityNumber: 5 }),
      testRecord({ kind: "logs", severityNumber: 0 }),
    ];
    const out = router(EXAMPLE).process(records, CTX);
    expect(out.map((r) => r.routes)).toEqual([
      ["warehouse", "archive"],
      ["search", "archive"],
      ["archive"],
      ["archive"],
    ]);
  });

  it("overlapping rules naming the same exporters are deduplicated", () => {
    const out = router({
      rules: [
        { when: { severity_at_least: "WARN" }, exporters: ["alerts", "search"] },
        { when: { severity_at_least: 17 }, exporters: ["search", "pager", "alerts"] },
        { when: { attribute: { key: "team", equals: "payments" } }, exporters: ["pager", "payments"] },
      ],
    }).process(
      [
        testRecord({ severityNumber: 17, attributes: { team: "payments" } }),
        testRecord({ severityNumber: 13 }),
        testRecord({ severityNumber: 9, attributes: { team: "payments" } }),
      ],
      CTX,
    );
    expect(out.map((r) => r.routes)).toEqual([
      ["alerts", "search", "pager", "payments"],
      ["alerts", "search"],
      ["pager", "payments"],
    ]);
  });

  it("event_name matches exactly or by /regex/", () => {
    const out = router({
      rules: [
        { when: { event_name: "/^checkout\\./" }, exporters: ["orders"] },
        { when: { event_name: "page_view" }, exporters: ["analytics"] },
      ],
      default_exporters: ["archive"],
    }).process(
      [
        testRecord({ kind: "events", eventName: "checkout.paid" }),
        testRecord({ kind: "events", eventName: "page_view" }),
        testRecord({ kind: "events", eventName: "page_view_2" }),
      ],
      CTX,
    );
    expect(out.map((r) => r.routes)).toEqual([["orders"], ["analytics"], ["archive"]]);
  });

  it("uses default_exporters when no rule matches, and overwrites earlier routes", () => {
    const r = testRecord({ routes: ["stale"] });
    router({
      rules: [{ when: { kind: "events" }, exporters: ["warehouse"] }],
      default_exporters: ["archive"],
    }).process([r], CTX);
    expect(r.routes).toEqual(["archive"]);
  });

  it("drops records routed nowhere (counted as unrouted) unless keep_unrouted", async () => {
    const deps = testDeps();
    const config = { rules: [{ when: { kind: "events" }, exporters: ["warehouse"] }] };
    const batch = [testRecord({ kind: "events" }), testRecord(), testRecord()];
    const out = router(config, deps).process(batch, CTX);
    expect(out).toBe(batch);
    expect(out).toHaveLength(1);
    expect(await counterValue(deps, DROPPED_RECORDS, { processor: "route", reason: UNROUTED })).toBe(2);

    const kept = router({ ...config, keep_unrouted: true }).process([testRecord()], CTX);
    expect(kept).toHaveLength(1);
    expect(kept[0]?.routes).toEqual([]);
  });

  it("shares one frozen route list per combination of rules", () => {
    const out = router(EXAMPLE).process(
      [testRecord({ severityNumber: 9 }), testRecord({ severityNumber: 10 })],
      CTX,
    );
    expect(out[0]?.routes).toBe(out[1]?.routes);
    expect(Object.isFrozen(out[0]?.routes)).toBe(true);
  });

  it("handles more rules than fit in a bit mask", () => {
    const rules = Array.from({ length: 40 }, (_, i) => ({
      when: { attribute: { key: `k${i}` } },
      exporters: [`e${i % 35}`],
    }));
    const out = router({ rules }).process([testRecord({ attributes: { k1: 1n, k36: 1n, k39: 1n } })], CTX);
    expect(out[0]?.routes).toEqual(["e1", "e4"]);
  });

  it("an empty batch passes through", () => {
    const empty: PipelineRecord[] = [];
    expect(router(EXAMPLE).process(empty, CTX)).toBe(empty);
  });

  it("routeTargets lists every exporter a config can send to, once", () => {
    const config = routeConfigSchema.parse({ ...EXAMPLE, default_exporters: ["archive", "dlq"] });
    expect(routeTargets(config)).toEqual(["warehouse", "search", "archive", "dlq"]);
  });

  it("refuses configs that would drop everything and rules without exporters", () => {
    expect(configError({})).toMatch(/needs rules or default_exporters/);
    expect(configError({ rules: [{ when: {}, exporters: [] }] })).toMatch(
      /rules\.0\.exporters: a rule needs at least one/,
    );
    expect(configError({ rules: [{ when: { severity_at_least: "NOISY" }, exporters: ["x"] }] })).toMatch(
      /rules\.0\.when\.severity_at_least: .*TRACE, DEBUG, INFO, WARN, ERROR, FATAL/,
    );
    expect(configError({ rules: [{ when: { level: 1 }, exporters: ["x"] }] })).toMatch(/level/);
  });
});
