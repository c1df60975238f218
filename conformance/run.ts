/**
 * Runs the suite against whichever endpoints are given and renders the
 * results. Checks for a transport that was not given are reported n/a, so
 * the table always shows the whole suite.
 */
import { forwardContext, forwardNotApplicable, runForwardChecks } from "./forward-checks.js";
import { grpcContext, runGrpcChecks } from "./grpc-checks.js";
import { httpContext, runHttpChecks } from "./http-checks.js";
import type { ConformanceOptions, Result } from "./types.js";

export type { ConformanceOptions, Level, Outcome, Result, Transport } from "./types.js";

export async function runConformance(options: ConformanceOptions): Promise<Result[]> {
  if (!options.http && !options.grpc && !options.forward)
    throw new Error("nothing to check: give at least one of --http, --grpc, --forward");
  const results: Result[] = [];
  if (options.http) results.push(...(await runHttpChecks(httpContext({ ...options, http: options.http }))));
  if (options.grpc) results.push(...(await runGrpcChecks(grpcContext({ ...options, grpc: options.grpc }))));
  results.push(
    ...(options.forward
      ? await runForwardChecks(forwardContext({ ...options, forward: options.forward }))
      : forwardNotApplicable("no Forward endpoint given (--forward)")),
  );
  return results;
}

export const failed = (results: Result[]): Result[] => results.filter((r) => r.result === "fail");

export function formatResults(results: Result[]): string {
  const header = ["ID", "TRANSPORT", "LEVEL", "RESULT", "DESCRIPTION", "REASON"];
  const rows = results.map((r) => [
    r.id,
    r.transport,
    r.level,
    r.result.toUpperCase(),
    r.description,
    r.reason,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  // The reason is last and not padded so a long one does not widen every line.
  const line = (cols: string[]) =>
    cols
      .map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const counts = { pass: 0, fail: 0, "n/a": 0 };
  for (const r of results) counts[r.result]++;
  return [
    line(header),
    ...rows.map(line),
    "",
    // Worded apart from test-runner summaries, so a log reader never takes it for one.
    `conformance checks: ${counts.pass} pass, ${counts.fail} fail, ${counts["n/a"]} n/a`,
  ].join("\n");
}

/** A Markdown table, for putting results into documentation. */
export function formatMarkdown(results: Result[]): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  return [
    "| id | level | result | reason |",
    "|---|---|---|---|",
    ...results.map((r) => `| \`${r.id}\` | ${r.level} | ${r.result} | ${esc(r.reason)} |`),
  ].join("\n");
}
