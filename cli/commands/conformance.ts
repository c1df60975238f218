/** `sluice conformance`: checks any OTLP logs endpoint (and optionally a Forward one) against the protocol. */
import { failed, formatMarkdown, formatResults, runConformance } from "../../conformance/run.js";

export interface ConformanceCliOptions {
  endpoint?: string;
  http?: string;
  grpc?: string;
  forward?: string;
  sharedKey?: string;
  maxBodyBytes?: string;
  maxGrpcBytes?: string;
  overloadProbe?: string;
  timeout?: string;
  json?: boolean;
  markdown?: boolean;
}

function positiveInt(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag}: expected a positive integer, got ${value}`);
  return n;
}

/**
 * --endpoint names the host of an OTLP endpoint (or a URL, whose host is
 * taken); both transports are then checked on OTLP's default ports, 4318 for
 * HTTP and 4317 for gRPC, unless --http or --grpc says otherwise.
 */
function defaultTargets(endpoint: string | undefined): { http?: string; grpc?: string } {
  if (endpoint === undefined) return {};
  let host = endpoint;
  if (endpoint.includes("://")) host = new URL(endpoint).hostname;
  else if (/^[^:[\]]+:\d+$/.test(endpoint)) host = endpoint.slice(0, endpoint.lastIndexOf(":"));
  if (!host) throw new Error(`--endpoint: cannot read a host from ${endpoint}`);
  const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return { http: `http://${h}:4318`, grpc: `${h}:4317` };
}

/** Runs the suite and returns the exit code: 1 when any check failed. */
export async function conformanceCommand(opts: ConformanceCliOptions): Promise<number> {
  let options: Parameters<typeof runConformance>[0];
  try {
    const defaults = defaultTargets(opts.endpoint);
    options = {
      http: opts.http ?? defaults.http,
      grpc: opts.grpc ?? defaults.grpc,
      forward: opts.forward,
      sharedKey: opts.sharedKey,
      maxBodyBytes: positiveInt("--max-body-bytes", opts.maxBodyBytes),
      maxGrpcBytes: positiveInt("--max-grpc-bytes", opts.maxGrpcBytes),
      overloadProbe: positiveInt("--overload-probe", opts.overloadProbe),
      timeoutMs: positiveInt("--timeout", opts.timeout),
    };
    if (!options.http && !options.grpc && !options.forward)
      throw new Error("nothing to check: give --endpoint, or at least one of --http, --grpc, --forward");
  } catch (err) {
    // Usage mistakes get a one-line message and their own exit code, apart from failed checks.
    process.stderr.write(`sluice conformance: ${(err as Error).message}\n`);
    return 2;
  }
  const results = await runConformance(options);
  if (opts.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else if (opts.markdown) process.stdout.write(`${formatMarkdown(results)}\n`);
  else process.stdout.write(`${formatResults(results)}\n`);
  return failed(results).length > 0 ? 1 : 0;
}
