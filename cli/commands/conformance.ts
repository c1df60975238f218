/** `sluice conformance`: checks any OTLP logs endpoint (and optionally a Forward one) against the protocol. */
import { failed, formatMarkdown, formatResults, runConformance } from "../../conformance/run.js";

export interface ConformanceCliOptions {
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

/** Runs the suite and returns the exit code: 1 when any check failed. */
export async function conformanceCommand(opts: ConformanceCliOptions): Promise<number> {
  let options: Parameters<typeof runConformance>[0];
  try {
    options = {
      http: opts.http,
      grpc: opts.grpc,
      forward: opts.forward,
      sharedKey: opts.sharedKey,
      maxBodyBytes: positiveInt("--max-body-bytes", opts.maxBodyBytes),
      maxGrpcBytes: positiveInt("--max-grpc-bytes", opts.maxGrpcBytes),
      overloadProbe: positiveInt("--overload-probe", opts.overloadProbe),
      timeoutMs: positiveInt("--timeout", opts.timeout),
    };
    if (!options.http && !options.grpc && !options.forward)
      throw new Error("nothing to check: give at least one of --http, --grpc, --forward");
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
