/** Starts a real gateway in this process, on loopback ports chosen by the OS. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildConfig, type Config } from "../../core/config/load-config.js";
import { silentLogger } from "../../core/logging/logger.js";
import { type RunningService, startService } from "../../service/service.js";

export interface TestGateway {
  config: Config;
  service: RunningService;
  /** host:port of the OTLP/gRPC receiver. */
  grpc: string;
  /** http://host:port of the OTLP/HTTP receiver. */
  http: string;
  admin: string;
  stop(): Promise<void>;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function deepMerge(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isObject(v) && isObject(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

export function testConfig(overrides: Record<string, unknown> = {}, dataDir?: string): Config {
  const base = {
    receivers: {
      otlp: { protocols: { grpc: { endpoint: "127.0.0.1:0" }, http: { endpoint: "127.0.0.1:0" } } },
    },
    admin: { endpoint: "127.0.0.1:0" },
    telemetry: { log_level: "silent" },
  };
  return buildConfig(deepMerge(base, overrides), {
    dataDir: dataDir ?? mkdtempSync(join(tmpdir(), "sluice-test-")),
  });
}

export async function startGateway(
  overrides: Record<string, unknown> = {},
  dataDir?: string,
): Promise<TestGateway> {
  const config = testConfig(overrides, dataDir);
  const service = await startService(config, ["gateway"], silentLogger);
  const grpc = (service.endpoints["otlp/grpc"] ?? "").replace("0.0.0.0", "127.0.0.1");
  const http = `http://${(service.endpoints["otlp/http"] ?? "").replace("0.0.0.0", "127.0.0.1")}`;
  return {
    config,
    service,
    grpc,
    http,
    admin: `http://${service.adminAddress}`,
    stop: () => service.shutdown(),
  };
}
