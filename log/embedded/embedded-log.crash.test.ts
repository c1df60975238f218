import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { partitionFor } from "../partitioner.js";
import { type CrashChildConfig, decodeSeq } from "./crash-child.js";
import { EmbeddedLog } from "./embedded-log.js";

// Node 20 cannot run TypeScript directly, so the child (and the log it
// imports) is bundled to one .mjs file. better-sqlite3 stays external, and
// is imported by absolute URL because the bundle lives outside the project.
const require = createRequire(import.meta.url);
const CHILD_SOURCE = fileURLToPath(new URL("./crash-child.ts", import.meta.url));
const TOPIC = "crash";
const PARTITIONS = 4;

let dir: string;
let childScript: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sluice-crash-"));
  childScript = join(dir, "crash-child.mjs");
  const sqliteUrl = pathToFileURL(require.resolve("better-sqlite3")).href;
  await build({
    entryPoints: [CHILD_SOURCE],
    outfile: childScript,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "silent",
    plugins: [
      {
        name: "absolute-better-sqlite3",
        setup(b) {
          b.onResolve({ filter: /^better-sqlite3$/ }, () => ({ path: sqliteUrl, external: true }));
        },
      },
    ],
  });
}, 60_000);

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

interface ChildRun {
  acked: Array<[number, number]>;
  done: boolean;
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
}

/**
 * Runs one writer. With killAfterAcks set, SIGKILLs it killDelayMs after
 * that many acknowledgements, while its other appends are still in flight.
 */
function runChild(cfg: CrashChildConfig, killAfterAcks?: number, killDelayMs = 0): Promise<ChildRun> {
  const child: ChildProcess = spawn(process.execPath, [childScript, JSON.stringify(cfg)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pid = child.pid;
  const run: ChildRun = { acked: [], done: false, signal: null, code: null, stderr: "" };
  const kill = () => {
    if (pid !== undefined && child.exitCode === null && child.signalCode === null)
      process.kill(pid, "SIGKILL");
  };
  child.stderr?.setEncoding("utf8").on("data", (s: string) => {
    run.stderr += s;
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  let killScheduled = false;
  lines.on("line", (line) => {
    if (line === "DONE") run.done = true;
    if (!line.startsWith("ACK ")) return;
    const [, first, last] = line.split(" ");
    run.acked.push([Number(first), Number(last)]);
    if (killAfterAcks !== undefined && !killScheduled && run.acked.length >= killAfterAcks) {
      killScheduled = true;
      setTimeout(kill, killDelayMs);
    }
  });
  // Safety net: never leave a writer behind, whatever the test does.
  const guard = setTimeout(kill, cfg.maxMs + 20_000);
  const linesClosed = new Promise<void>((r) => lines.once("close", () => r()));
  return new Promise<ChildRun>((resolve) => {
    child.once("exit", (code, signal) => {
      clearTimeout(guard);
      run.code = code;
      run.signal = signal;
      // Every line the child wrote before it died is still in the pipe.
      void linesClosed.then(() => resolve(run));
    });
  });
}

interface Verification {
  stored: number;
  storedSeqs: Map<number, number>;
}

/** Reopens the file and checks offsets, routing and that no sequence number is stored twice. */
async function verifyFile(path: string): Promise<Verification> {
  const log = new EmbeddedLog({
    path,
    partitions: PARTITIONS,
    retention: { maxAgeMs: undefined, maxBytes: undefined },
  });
  await log.start();
  try {
    const storedSeqs = new Map<number, number>();
    let stored = 0;
    expect(log.partitionCount(TOPIC)).toBe(PARTITIONS);
    for (let p = 0; p < PARTITIONS; p++) {
      let next = 0n;
      for (;;) {
        const chunk = log.read(TOPIC, p, next, 5000);
        if (chunk.length === 0) break;
        for (const m of chunk) {
          // Dense: no gap, no repeat, from offset 0 (no retention here).
          expect(m.offset).toBe(next);
          next++;
          expect(partitionFor(m.key, PARTITIONS)).toBe(p);
          const seq = decodeSeq(m.value);
          storedSeqs.set(seq, (storedSeqs.get(seq) ?? 0) + 1);
          stored++;
        }
      }
      expect(log.endOffset(TOPIC, p)).toBe(next);
    }
    return { stored, storedSeqs };
  } finally {
    await log.shutdown();
  }
}

function expectAckedOnce(acked: Array<[number, number]>, storedSeqs: Map<number, number>): number {
  let count = 0;
  let missing = 0;
  for (const [first, last] of acked) {
    for (let seq = first; seq <= last; seq++) {
      count++;
      if (storedSeqs.get(seq) !== 1) missing++;
    }
  }
  expect(missing, "acknowledged messages missing or duplicated").toBe(0);
  return count;
}

function childConfig(
  path: string,
  base: number,
  overrides: Partial<CrashChildConfig> = {},
): CrashChildConfig {
  return {
    path,
    topic: TOPIC,
    partitions: PARTITIONS,
    base,
    maxMessages: 200_000,
    maxMs: 30_000,
    batchSize: 20,
    concurrency: 8,
    valueBytes: 200,
    ...overrides,
  };
}

describe("EmbeddedLog under kill -9", () => {
  it("keeps every acknowledged append across repeated SIGKILLs", { timeout: 180_000 }, async () => {
    const path = join(dir, "kill", "log.db");
    const allAcked: Array<[number, number]> = [];
    const rounds = 3;
    for (let round = 0; round < rounds; round++) {
      const killAfter = 50 + Math.floor(Math.random() * 100);
      const delay = Math.floor(Math.random() * 20);
      const run = await runChild(childConfig(path, (round + 1) * 10_000_000), killAfter, delay);
      expect(run.stderr).toBe("");
      expect(run.done, "the writer finished before it could be killed").toBe(false);
      expect(run.signal).toBe("SIGKILL");
      expect(run.acked.length).toBeGreaterThanOrEqual(killAfter);
      allAcked.push(...run.acked);

      const { stored, storedSeqs } = await verifyFile(path);
      for (const n of storedSeqs.values()) expect(n).toBe(1);
      const ackedThisRound = expectAckedOnce(run.acked, storedSeqs);
      const ackedTotal = expectAckedOnce(allAcked, storedSeqs);
      console.info(
        `crash round ${round + 1}: killed after ${run.acked.length} acked batches (+${delay} ms), ` +
          `${ackedThisRound} messages acked this round, ${ackedTotal} acked in total, ` +
          `${stored} stored in total, all acked read back exactly once`,
      );
    }
  });

  it("keeps offsets dense with two writer processes and a killed one on the same file", {
    timeout: 180_000,
  }, async () => {
    const path = join(dir, "multi", "log.db");
    const cfg = { maxMessages: 4000, batchSize: 10, concurrency: 4, valueBytes: 64 };
    const [a, b, c] = await Promise.all([
      runChild(childConfig(path, 100_000_000, cfg)),
      runChild(childConfig(path, 200_000_000, cfg)),
      runChild(childConfig(path, 300_000_000, { ...cfg, maxMessages: 200_000 }), 30, 5),
    ]);
    for (const run of [a, b]) {
      expect(run.stderr).toBe("");
      expect(run.done).toBe(true);
      expect(run.code).toBe(0);
    }
    expect(c.signal).toBe("SIGKILL");

    const { stored, storedSeqs } = await verifyFile(path);
    for (const n of storedSeqs.values()) expect(n).toBe(1);
    expect(expectAckedOnce(a.acked, storedSeqs)).toBe(4000);
    expect(expectAckedOnce(b.acked, storedSeqs)).toBe(4000);
    const ackedC = expectAckedOnce(c.acked, storedSeqs);
    console.info(
      `multi-process: 2 x 4000 completed, killed writer acked ${ackedC}, ${stored} stored, offsets dense`,
    );
  });
});
