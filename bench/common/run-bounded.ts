/**
 * How a bench run ends, whatever happens: main() under a deadline, cleanup
 * of everything the run started on success, failure, deadline or a signal,
 * and the run folder removed only when the run passed and was not kept.
 */
import { rmSync } from "node:fs";

export interface BoundedRun {
  /** "suite" or "run", for the log lines. */
  label: string;
  deadlineMs: number;
  runDir: string;
  keep: boolean;
  log: (line: string) => void;
  cleanup: () => Promise<void>;
}

/** Runs main and exits the process with its code (2 on an error, 3 past the deadline, 130 on a signal). */
export async function runBounded(main: () => Promise<number>, o: BoundedRun): Promise<never> {
  let exitCode = 2;
  const watchdog = setTimeout(() => {
    o.log(`${o.label} deadline of ${(o.deadlineMs / 60_000).toFixed(0)} min passed; stopping`);
    void o.cleanup().finally(() => process.exit(3));
  }, o.deadlineMs);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      o.log(`${sig}: stopping what this ${o.label} started`);
      void o.cleanup().finally(() => process.exit(130));
    });
  }
  try {
    exitCode = await main();
  } catch (e) {
    o.log(`${o.label} error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    exitCode = 2;
  } finally {
    clearTimeout(watchdog);
    await o.cleanup();
    if (exitCode === 0 && !o.keep) rmSync(o.runDir, { recursive: true, force: true });
    else o.log(`run folder kept: ${o.runDir}`);
  }
  process.exit(exitCode);
}
