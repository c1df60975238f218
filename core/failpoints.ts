/**
 * Crash points for fault tests: the test suite proves that a processor
 * killed between a sink write and its commit replays without duplicates by
 * making the process kill itself at exactly that point.
 *
 * SLUICE_FAILPOINT_KILL_AFTER_WRITE=<exporter>:<marker file> makes the first
 * successful write of that exporter end the process with SIGKILL before the
 * commit, once: the marker file records that it fired, so the restarted
 * process runs normally. Unset, it costs one map lookup per batch.
 */
import { existsSync, writeFileSync } from "node:fs";

const spec = process.env.SLUICE_FAILPOINT_KILL_AFTER_WRITE;
const [exporterName, marker] = spec
  ? (spec.split(":", 2) as [string, string | undefined])
  : [undefined, undefined];

export function afterSinkWrite(exporter: string): void {
  if (exporterName !== exporter || !marker || existsSync(marker)) return;
  writeFileSync(marker, `${process.pid}\n`);
  process.kill(process.pid, "SIGKILL");
}
