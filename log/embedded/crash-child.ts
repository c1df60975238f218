/**
 * Writer process for the crash and multi-process tests. It appends
 * messages carrying unique sequence numbers and prints "ACK <first> <last>"
 * once an append has resolved, i.e. once the log claims those messages are
 * durable. The parent kills it with SIGKILL at an arbitrary moment and
 * checks every acknowledged number against the file.
 *
 * Usage: node crash-child.mjs '<json CrashChildConfig>'
 */
import { EmbeddedLog } from "./embedded-log.js";

export interface CrashChildConfig {
  path: string;
  topic: string;
  partitions: number;
  /** First sequence number; this run uses [base, base + maxMessages). */
  base: number;
  maxMessages: number;
  maxMs: number;
  batchSize: number;
  /** Concurrent append loops, so several appends share each group commit. */
  concurrency: number;
  valueBytes: number;
}

/** Value layout: 8-byte big-endian sequence number, then padding. */
export function encodeValue(seq: number, valueBytes: number): Uint8Array {
  const value = new Uint8Array(Math.max(8, valueBytes));
  new DataView(value.buffer).setBigUint64(0, BigInt(seq));
  value.fill(seq & 0xff, 8);
  return value;
}

export function decodeSeq(value: Uint8Array): number {
  return Number(new DataView(value.buffer, value.byteOffset, value.byteLength).getBigUint64(0));
}

export function keyFor(seq: number): Uint8Array {
  return new TextEncoder().encode(`source-${seq % 37}`);
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  if (arg === undefined) throw new Error("missing config argument");
  const cfg = JSON.parse(arg) as CrashChildConfig;
  const log = new EmbeddedLog({
    path: cfg.path,
    partitions: cfg.partitions,
    retention: { maxAgeMs: undefined, maxBytes: undefined },
  });
  await log.start();
  process.stdout.write("READY\n");

  const end = cfg.base + cfg.maxMessages;
  const deadline = Date.now() + cfg.maxMs;
  let next = cfg.base;
  const loop = async (): Promise<void> => {
    while (next < end && Date.now() < deadline) {
      const first = next;
      const last = Math.min(first + cfg.batchSize, end) - 1;
      next = last + 1;
      const messages = [];
      for (let seq = first; seq <= last; seq++) {
        messages.push({ key: keyFor(seq), value: encodeValue(seq, cfg.valueBytes) });
      }
      await log.append(cfg.topic, messages);
      // Pipes are written synchronously on Linux, so this line is out
      // before the next append is even queued.
      process.stdout.write(`ACK ${first} ${last}\n`);
    }
  };
  await Promise.all(Array.from({ length: cfg.concurrency }, loop));
  await log.shutdown();
  process.stdout.write("DONE\n");
}

// Only run when executed as a script, not when the tests import the helpers.
if (process.argv[1]?.endsWith("crash-child.mjs")) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
