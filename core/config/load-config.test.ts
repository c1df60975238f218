import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildConfig, type Config, gatewayWorkers, loadConfigFile, parseConfigText } from "./load-config.js";
import { parseDuration, parseSize } from "./units.js";

/** The OTLP protocols of the i-th active receiver, failing the test if it is not an OTLP receiver. */
function otlpProtocols(c: Config, i: number) {
  const r = c.activeReceivers[i];
  if (r?.type !== "otlp") throw new Error(`receiver ${i} is not an otlp receiver`);
  return r.config.protocols;
}

describe("config defaults", () => {
  it("an empty config runs on embedded parts only", () => {
    const c = buildConfig({}, { cwd: "/srv" });
    expect(c.log.backend).toBe("embedded");
    expect(c.dataDir).toBe("/srv/data");
    expect(c.activeReceivers.map((r) => r.name)).toEqual(["otlp"]);
    const otlp = otlpProtocols(c, 0);
    expect(otlp?.grpc?.endpoint).toBe("0.0.0.0:4317");
    expect(otlp?.http?.endpoint).toBe("0.0.0.0:4318");
    expect(otlp?.http?.logs_url_path).toBe("/v1/logs");
    expect(c.admin.endpoint).toBe("0.0.0.0:8888");
    expect(c.log.key).toEqual({ from: "resource", attribute: "service.name" });
    expect(c.log.embedded.retention.max_age).toBe(168 * 3_600_000);
    expect(c.gateway.max_inflight_bytes).toBe(64 * 1024 * 1024);
  });

  it("--data-dir overrides data_dir", () => {
    expect(buildConfig({ data_dir: "x" }, { dataDir: "/d" }).dataDir).toBe("/d");
  });
});

describe("config file", () => {
  it("reads a Collector-shaped YAML file with env substitution", () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-cfg-"));
    const path = join(dir, "c.yaml");
    writeFileSync(
      path,
      [
        "receivers:",
        "  otlp:",
        "    protocols:",
        "      grpc:",
        "        endpoint: 127.0.0.1:${env:GRPC_PORT}",
        "      http:",
        "        endpoint: ${env:HTTP_ENDPOINT:-127.0.0.1:4318}",
        "        max_request_body_size: 1MiB",
        "        cors: { allowed_origins: ['https://*.example.com'] }",
        "  otlp/second:",
        "    protocols: { http: { endpoint: '127.0.0.1:0' } }",
        "pipelines:",
        "  logs: { receivers: [otlp, otlp/second] }",
        "log:",
        "  backend: kafka",
        "  kafka: { brokers: ['${env:BROKER}'], request_timeout: 5s }",
        "  key: { from: record, attribute: tenant.id }",
      ].join("\n"),
    );
    const c = loadConfigFile(path, { env: { GRPC_PORT: "5317", BROKER: "127.0.0.1:9092" } });
    expect(c.activeReceivers.map((r) => r.name)).toEqual(["otlp", "otlp/second"]);
    const p = otlpProtocols(c, 0);
    expect(p?.grpc?.endpoint).toBe("127.0.0.1:5317");
    expect(p?.http?.endpoint).toBe("127.0.0.1:4318");
    expect(p?.http?.max_request_body_size).toBe(1024 * 1024);
    expect(p?.http?.cors.allowed_origins).toEqual(["https://*.example.com"]);
    expect(otlpProtocols(c, 1).grpc).toBeUndefined();
    expect(c.log.kafka.brokers).toEqual(["127.0.0.1:9092"]);
    expect(c.log.kafka.request_timeout).toBe(5000);
    expect(c.log.key).toEqual({ from: "record", attribute: "tenant.id" });
  });
});

describe("config errors name the path and the allowed values", () => {
  const fails = (yaml: string, env: NodeJS.ProcessEnv = {}) => {
    try {
      parseConfigText(yaml, { env });
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error("expected the config to be refused");
  };

  it("bad enum value", () => {
    expect(fails("log: { backend: postgres }")).toMatch(/log\.backend: .*"embedded".*"kafka"/);
  });
  it("unknown key (typo)", () => {
    expect(fails("log: { backnd: kafka }")).toMatch(/log: Unrecognized key.*backnd/);
  });
  it("bad duration and size", () => {
    const m = fails("gateway: { append_timeout: soon, max_inflight_bytes: lots }");
    expect(m).toMatch(/gateway\.append_timeout: append_timeout: expected a duration/);
    expect(m).toMatch(/gateway\.max_inflight_bytes: max_inflight_bytes: expected a size/);
  });
  it("pipeline naming an undefined receiver", () => {
    expect(fails("pipelines: { logs: { receivers: [otlp/nope] } }")).toMatch(
      /pipelines\.logs\.receivers\[0\]: "otlp\/nope" is not defined under receivers \(defined: otlp\)/,
    );
  });
  it("unknown receiver type", () => {
    expect(fails("receivers: { syslog: {} }\npipelines: { logs: { receivers: [syslog] } }")).toMatch(
      /receivers\.syslog: unknown receiver type "syslog" \(allowed: otlp, forward\)/,
    );
  });
  it("bad endpoint inside a receiver", () => {
    expect(fails("receivers: { otlp: { protocols: { grpc: { endpoint: nope } } } }")).toMatch(
      /receivers\.otlp\.protocols\.grpc\.endpoint: expected host:port/,
    );
  });
  it("unset environment variable without default", () => {
    expect(fails("data_dir: ${env:NOPE}")).toMatch(/data_dir: environment variable NOPE is not set/);
  });
  it("invalid YAML", () => {
    expect(fails("receivers: [")).toMatch(/invalid YAML/);
  });
});

describe("gateway.workers", () => {
  const kafka = { backend: "kafka" };
  const fails = (doc: unknown) => {
    try {
      buildConfig(doc);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error("expected the config to be refused");
  };

  it("defaults to one worker: the gateway runs in the main process", () => {
    const c = buildConfig({});
    expect(c.gateway.workers).toBe(1);
    expect(gatewayWorkers(c, 8)).toBe(1);
  });

  it("takes a number of workers with the Kafka log", () => {
    const c = buildConfig({ log: kafka, gateway: { workers: 4 } });
    expect(c.gateway.workers).toBe(4);
    expect(gatewayWorkers(c, 2)).toBe(4);
  });

  it('"auto" is one worker per CPU with Kafka, and one with the embedded log', () => {
    expect(gatewayWorkers(buildConfig({ log: kafka, gateway: { workers: "auto" } }), 6)).toBe(6);
    expect(gatewayWorkers(buildConfig({ gateway: { workers: "auto" } }), 6)).toBe(1);
  });

  it("accepts a number from the environment", () => {
    const c = parseConfigText("log: { backend: kafka }\ngateway:\n  workers: ${env:WORKERS}", {
      env: { WORKERS: "3" },
    });
    expect(c.gateway.workers).toBe(3);
  });

  it("refuses more than one worker with the embedded log, naming the path", () => {
    expect(fails({ gateway: { workers: 2 } })).toMatch(
      /invalid configuration:\n {2}- gateway\.workers: 2 worker processes need log\.backend: kafka; the embedded log \(SQLite\) has one writer/,
    );
    expect(fails({ log: { backend: "embedded" }, gateway: { workers: 3 } })).toMatch(/gateway\.workers: 3 /);
  });

  it("refuses anything but a whole number of at least 1 or auto", () => {
    for (const workers of [0, -1, 1.5, "many", "4", null, true]) {
      expect(fails({ log: kafka, gateway: { workers } })).toMatch(
        /gateway\.workers: expected a whole number of at least 1, or "auto"/,
      );
    }
  });
});

describe("units", () => {
  it("parses durations", () => {
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("7d")).toBe(604_800_000);
    expect(parseDuration(250)).toBe(250);
    expect(parseDuration("10 parsecs")).toBeUndefined();
  });
  it("parses sizes", () => {
    expect(parseSize("20MiB")).toBe(20 * 1024 * 1024);
    expect(parseSize("1GB")).toBe(1e9);
    expect(parseSize(42)).toBe(42);
    expect(parseSize("-1")).toBeUndefined();
  });
  it("escapes $${ as a literal", () => {
    expect(buildConfig({ data_dir: "$${env:X}" }).data_dir).toBe("${env:X}");
  });
});
