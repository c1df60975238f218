import { describe, expect, it } from "vitest";
import { makeRecord, makeResource, makeScope } from "../common/test-support.js";
import { searchConfigSchema } from "./config.js";
import {
  dailySuffix,
  defaultTemplateName,
  indexFor,
  indexPattern,
  sanitizeDataStreamPart,
  validateIndexTemplate,
} from "./index-name.js";

const naming = { logsIndex: "logs-{dataset}-{namespace}", dataset: "generic", namespace: "default" };

describe("indexFor", () => {
  it("uses the defaults without data_stream attributes", () => {
    expect(indexFor(makeRecord(), { ...naming, mode: "data_stream" })).toBe("logs-generic-default");
  });

  it("takes dataset and namespace from the record, then scope, then resource", () => {
    const r = makeRecord({
      attributes: { "data_stream.dataset": "nginx.access" },
      scope: makeScope({ attributes: { "data_stream.dataset": "ignored", "data_stream.namespace": "prod" } }),
      resource: makeResource({ attributes: { "data_stream.namespace": "ignored" } }),
    });
    expect(indexFor(r, { ...naming, mode: "data_stream" })).toBe("logs-nginx.access-prod");
    const fromResource = makeRecord({
      resource: makeResource({ attributes: { "data_stream.namespace": "EU-1" } }),
    });
    expect(indexFor(fromResource, { ...naming, mode: "data_stream" })).toBe("logs-generic-eu_1");
  });

  it("appends the UTC day of the record time in daily mode", () => {
    // 2024-05-01T23:59:59.999Z
    const r = makeRecord({ timeUnixNano: 1_714_607_999_999_000_000n });
    expect(indexFor(r, { ...naming, mode: "daily_index" })).toBe("logs-generic-default-2024.05.01");
    const observedOnly = makeRecord({ timeUnixNano: 0n, observedTimeUnixNano: 1_714_608_000_000_000_000n });
    expect(indexFor(observedOnly, { ...naming, mode: "daily_index" })).toBe(
      "logs-generic-default-2024.05.02",
    );
    expect(dailySuffix(0n)).toBe("1970.01.01");
  });

  it("is the same for a replayed copy of a record", () => {
    const r = makeRecord({ attributes: { "data_stream.dataset": "app" } });
    const copy = structuredClone(r);
    expect(indexFor(copy, { ...naming, mode: "daily_index" })).toBe(
      indexFor(r, { ...naming, mode: "daily_index" }),
    );
  });
});

describe("sanitizeDataStreamPart", () => {
  it("lower-cases, replaces what an index name cannot hold and caps the length", () => {
    expect(sanitizeDataStreamPart('My App/v2:*?"<>|, #-x', "generic")).toBe("my_app_v2___________x");
    expect(sanitizeDataStreamPart("", "generic")).toBe("generic");
    expect(sanitizeDataStreamPart("a".repeat(150), "generic")).toHaveLength(100);
  });
});

describe("index patterns and template names", () => {
  it("derives the template pattern from logs_index and the mode", () => {
    expect(indexPattern({ logsIndex: "logs-{dataset}-{namespace}", mode: "data_stream" })).toBe("logs-*-*");
    expect(indexPattern({ logsIndex: "logs-{dataset}-{namespace}", mode: "daily_index" })).toBe("logs-*-*-*");
    expect(indexPattern({ logsIndex: "app-logs", mode: "daily_index" })).toBe("app-logs-*");
    expect(defaultTemplateName("logs-*-*")).toBe("sluice.logs-_-_");
  });

  it("validates logs_index", () => {
    expect(validateIndexTemplate("logs-{dataset}-{namespace}")).toBeUndefined();
    expect(validateIndexTemplate("logs-{service}")).toMatch(/unknown placeholder \{service\}/);
    expect(validateIndexTemplate("Logs")).toMatch(/lowercase/);
    expect(validateIndexTemplate("_logs")).toMatch(/must not start/);
    expect(validateIndexTemplate("lo gs")).toMatch(/must not contain/);
  });
});

describe("searchConfigSchema", () => {
  it("fills the defaults", () => {
    const c = searchConfigSchema.parse({ endpoints: ["http://127.0.0.1:9200"] });
    expect(c).toMatchObject({
      logs_index: "logs-{dataset}-{namespace}",
      dataset: "generic",
      namespace: "default",
      mode: "data_stream",
      request_timeout: 30_000,
      max_retries: 3,
      max_bulk_bytes: 5 * 1024 * 1024,
      tls: { insecure_skip_verify: false },
      template: { install: true, priority: 250, total_fields_limit: 2000 },
    });
    expect(c.auth).toBeUndefined();
  });

  it("takes basic auth or an API key, durations and sizes as text", () => {
    const basic = searchConfigSchema.parse({
      endpoints: ["https://127.0.0.1:9200", "https://[::1]:9201"],
      auth: { username: "elastic", password: "s3cret" },
      tls: { insecure_skip_verify: true, ca_file: "/etc/ca.pem" },
      mode: "daily_index",
      request_timeout: "5s",
      max_bulk_bytes: "1MiB",
    });
    expect(basic.auth).toEqual({ username: "elastic", password: "s3cret" });
    expect(basic.request_timeout).toBe(5_000);
    expect(basic.max_bulk_bytes).toBe(1024 * 1024);
    expect(
      searchConfigSchema.parse({ endpoints: ["http://127.0.0.1:9200"], auth: { api_key: "abc" } }).auth,
    ).toEqual({ api_key: "abc" });
  });

  it("refuses bad values", () => {
    const bad = (v: unknown) => searchConfigSchema.safeParse(v).success;
    expect(bad({})).toBe(false);
    expect(bad({ endpoints: [] })).toBe(false);
    expect(bad({ endpoints: ["127.0.0.1:9200"] })).toBe(false);
    expect(bad({ endpoints: ["ftp://127.0.0.1"] })).toBe(false);
    expect(bad({ endpoints: ["http://127.0.0.1:9200"], mode: "hourly" })).toBe(false);
    expect(bad({ endpoints: ["http://127.0.0.1:9200"], logs_index: "Logs-{dataset}" })).toBe(false);
    expect(
      bad({ endpoints: ["http://127.0.0.1:9200"], auth: { username: "u", password: "p", api_key: "k" } }),
    ).toBe(false);
    expect(bad({ endpoints: ["http://127.0.0.1:9200"], request_timeout: "soon" })).toBe(false);
    expect(bad({ endpoints: ["http://127.0.0.1:9200"], unknown_key: 1 })).toBe(false);
  });
});
