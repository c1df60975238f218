import { describe, expect, it } from "vitest";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { CTX, counterValue, testDeps, testRecord, testResource } from "../common/testing.js";
import { DROPPED_RECORDS, PROCESSED_RECORDS } from "../metrics.js";
import { filterProcessorFactory, NOT_KEPT } from "./index.js";

function filter(config: Record<string, unknown>, deps = testDeps()) {
  return filterProcessorFactory.create(
    "filter/test",
    filterProcessorFactory.configSchema.parse(config),
    deps,
  );
}

function survivors(config: Record<string, unknown>, records: PipelineRecord[]): PipelineRecord[] {
  return filter(config).process(records, CTX);
}

function configError(config: Record<string, unknown>): string {
  const r = filterProcessorFactory.configSchema.safeParse(config);
  if (r.success) throw new Error("expected the config to be refused");
  return r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n");
}

const sev = (severityNumber: number, fields: Partial<PipelineRecord> = {}) =>
  testRecord({ severityNumber, ...fields });

describe("filter: severity_below", () => {
  it("drops records below the threshold, by name or number, never the unspecified ones by default", () => {
    const records = [sev(0), sev(1), sev(5), sev(8), sev(9), sev(17)];
    const out = survivors({ drop: [{ severity_below: "INFO" }] }, [...records]);
    expect(out.map((r) => r.severityNumber)).toEqual([0, 9, 17]);
    const numeric = survivors({ drop: [{ severity_below: 6 }] }, [...records]);
    expect(numeric.map((r) => r.severityNumber)).toEqual([0, 8, 9, 17]);
  });

  it("unspecified_is_below also drops severity 0", () => {
    const out = survivors({ drop: [{ severity_below: "warn", unspecified_is_below: true }] }, [
      sev(0),
      sev(9),
      sev(13),
    ]);
    expect(out.map((r) => r.severityNumber)).toEqual([13]);
  });
});

describe("filter: conditions", () => {
  it("attribute conditions look at record attributes, then resource attributes", () => {
    const records = [
      testRecord({ attributes: { "http.route": "/healthz" } }),
      testRecord({ attributes: { "http.route": "/api" } }),
      testRecord({ resource: testResource({ "http.route": "/healthz" }) }),
      testRecord({
        attributes: { "http.route": "/api" },
        resource: testResource({ "http.route": "/healthz" }),
      }),
    ];
    const out = survivors({ drop: [{ attribute: { key: "http.route", equals: "/healthz" } }] }, records);
    expect(out.map((r) => r.attributes["http.route"] ?? r.resource.attributes["http.route"])).toEqual([
      "/api",
      "/api",
    ]);
  });

  it("all given fields must match (AND), including lists of attribute conditions", () => {
    const rule = {
      kind: "logs",
      severity_below: "WARN",
      attribute: [{ key: "env", equals: "dev" }, { key: "debug.trace" }],
      body_matches: "cache",
    };
    const base = { severityNumber: 5, body: "cache miss", attributes: { env: "dev", "debug.trace": true } };
    const candidates = [
      testRecord(base),
      testRecord({ ...base, kind: "events" }),
      testRecord({ ...base, severityNumber: 13 }),
      testRecord({ ...base, attributes: { env: "prod", "debug.trace": true } }),
      testRecord({ ...base, attributes: { env: "dev" } }),
      testRecord({ ...base, body: "hit" }),
    ];
    const out = survivors({ drop: [rule] }, [...candidates]);
    expect(out).toEqual(candidates.slice(1));
  });

  it("body_matches searches string bodies and JSON-like text of structured bodies, unicode included", () => {
    const records = [
      testRecord({ body: "GET /healthz 200" }),
      testRecord({ body: { path: "/healthz", n: 1n } }),
      testRecord({ body: "接続エラー: タイムアウト 🔥" }),
      testRecord({ body: null }),
      testRecord({ body: "ok" }),
    ];
    const out = survivors(
      {
        drop: [
          { body_matches: '"path":"/healthz"' },
          { body_matches: "/healthz" },
          { body_matches: "タイムアウト.🔥" },
        ],
      },
      records,
    );
    expect(out.map((r) => r.body)).toEqual([null, "ok"]);
  });

  it("kind and event_name (exact or /regex/)", () => {
    const records = [
      testRecord({ kind: "events", eventName: "browser.page_view" }),
      testRecord({ kind: "events", eventName: "checkout.completed" }),
      testRecord({ kind: "events", eventName: "browser.click" }),
      testRecord({ kind: "logs" }),
    ];
    const out = survivors({ drop: [{ event_name: "/^browser\\./" }, { kind: "logs" }] }, [...records]);
    expect(out.map((r) => r.eventName)).toEqual(["checkout.completed"]);
    const exact = survivors({ drop: [{ event_name: "browser.click" }] }, [...records]);
    expect(exact).toHaveLength(3);
  });

  it("a regex that matches part of a 1 MB body is enough", () => {
    const body = `${"x".repeat(1024 * 1024)} password reset`;
    expect(survivors({ drop: [{ body_matches: "password reset$" }] }, [testRecord({ body })])).toHaveLength(
      0,
    );
  });
});

describe("filter: overlapping rules, keep rules and metrics", () => {
  it("counts each dropped record once, under the first matching rule's name or index", async () => {
    const deps = testDeps();
    const f = filter(
      {
        drop: [
          { name: "debug", severity_below: "INFO" },
          { attribute: { key: "noisy" } },
          { name: "health", body_matches: "healthz" },
        ],
      },
      deps,
    );
    const batch = [
      sev(5, { attributes: { noisy: true }, body: "healthz" }),
      sev(9, { attributes: { noisy: true }, body: "healthz" }),
      sev(9, { body: "healthz" }),
      sev(9, { body: "fine" }),
      sev(1),
    ];
    const out = f.process(batch, CTX);
    expect(out).toBe(batch);
    expect(out.map((r) => r.body)).toEqual(["fine"]);
    expect(await counterValue(deps, DROPPED_RECORDS, { processor: "filter/test", reason: "debug" })).toBe(2);
    expect(await counterValue(deps, DROPPED_RECORDS, { processor: "filter/test", reason: "drop[1]" })).toBe(
      1,
    );
    expect(await counterValue(deps, DROPPED_RECORDS, { processor: "filter/test", reason: "health" })).toBe(1);
    expect(await counterValue(deps, PROCESSED_RECORDS, { processor: "filter/test" })).toBe(5);
  });

  it("keep rules drop what matches none of them; drop rules win over keep rules", async () => {
    const deps = testDeps();
    const f = filter(
      {
        drop: [{ attribute: { key: "env", equals: "dev" } }],
        keep: [
          { severity_below: "FATAL", attribute: { key: "team", equals: "payments" } },
          { kind: "events" },
        ],
      },
      deps,
    );
    const batch = [
      sev(9, { attributes: { team: "payments" } }),
      sev(21, { attributes: { team: "payments" } }),
      sev(9, { attributes: { team: "search" } }),
      sev(9, { kind: "events" }),
      sev(9, { kind: "events", attributes: { env: "dev" } }),
      sev(9, { attributes: { team: "payments", env: "dev" } }),
    ];
    const out = f.process(batch, CTX);
    expect(out.map((r) => [r.kind, r.severityNumber, r.attributes.team])).toEqual([
      ["logs", 9, "payments"],
      ["events", 9, undefined],
    ]);
    expect(await counterValue(deps, DROPPED_RECORDS, { processor: "filter/test", reason: NOT_KEPT })).toBe(2);
    expect(await counterValue(deps, DROPPED_RECORDS, { processor: "filter/test", reason: "drop[0]" })).toBe(
      2,
    );
  });

  it("an empty batch and a filter without rules pass through", () => {
    const empty: PipelineRecord[] = [];
    expect(filter({ drop: [{ kind: "logs" }] }).process(empty, CTX)).toBe(empty);
    expect(survivors({}, [testRecord(), testRecord()])).toHaveLength(2);
  });
});

describe("filter: config", () => {
  it("refuses empty rules, empty keep lists, unknown levels and bad regexes", () => {
    expect(configError({ drop: [{ name: "x" }] })).toMatch(
      /drop\.0: a rule needs at least one of severity_below/,
    );
    expect(configError({ keep: [] })).toMatch(/keep: keep needs at least one rule/);
    expect(configError({ drop: [{ severity_below: "LOUD" }] })).toMatch(
      /drop\.0\.severity_below: .*TRACE, DEBUG, INFO, WARN, ERROR, FATAL/,
    );
    expect(configError({ drop: [{ kind: "metrics" }] })).toMatch(/drop\.0\.kind: .*"logs".*"events"/);
    expect(configError({ drop: [{ body_matches: "(" }] })).toMatch(
      /drop\.0\.body_matches: invalid regular expression/,
    );
    expect(configError({ drop: [{ attribute: { key: "a", contains: "b" } }] })).toMatch(/contains/);
  });
});
