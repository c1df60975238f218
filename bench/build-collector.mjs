#!/usr/bin/env node
// Builds the benchmark's OpenTelemetry Collector (OTLP receiver + contrib Kafka
// exporter) from bench/collector into .cache/otelcol-bench/<hash>/. The hash
// covers the module's sources, so an edited go.mod or main.go rebuilds and an
// unchanged one is reused. Prints the binary path on stdout.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const MODULE_DIR = join(ROOT, "bench", "collector");
// A cold build of the contrib exporter and its dependencies takes minutes on two cores.
const BUILD_TIMEOUT_MS = 20 * 60_000;

export function collectorBinary() {
  const hash = createHash("sha256");
  for (const f of ["go.mod", "go.sum", "main.go"]) hash.update(readFileSync(join(MODULE_DIR, f)));
  return join(ROOT, ".cache", "otelcol-bench", hash.digest("hex").slice(0, 16), "otelcol-sluice-bench");
}

export async function buildCollector(log = (line) => process.stderr.write(`${line}\n`)) {
  const bin = collectorBinary();
  const marker = join(dirname(bin), ".complete");
  if (existsSync(marker) && existsSync(bin)) return bin;
  await rm(dirname(bin), { recursive: true, force: true });
  await mkdir(dirname(bin), { recursive: true });
  log(`building the benchmark Collector into ${bin} (minutes when Go's build cache is cold)`);
  const started = Date.now();
  await new Promise((res, rej) => {
    const child = spawn("go", ["build", "-trimpath", "-ldflags=-s -w", "-o", bin, "."], {
      cwd: MODULE_DIR,
      stdio: ["ignore", "inherit", "inherit"],
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), BUILD_TIMEOUT_MS);
    child.once("error", rej);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) res();
      else rej(new Error(`go build exited with ${signal ?? code}`));
    });
  });
  if (!existsSync(bin)) throw new Error(`go build finished but ${bin} is missing`);
  // Written last, so an interrupted build is never mistaken for a finished one.
  await writeFile(marker, `${new Date().toISOString()}\n`);
  log(`built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return bin;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildCollector().then(
    (bin) => process.stdout.write(`${bin}\n`),
    (err) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    },
  );
}
