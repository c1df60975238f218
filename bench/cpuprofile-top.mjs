#!/usr/bin/env node
// Summarises V8 .cpuprofile files (from `node --cpu-prof`): self time per
// function (name + script + line), and per script, highest first. Self time is
// what a function spends in its own code, so the top rows are where cycles
// actually go, not who calls whom.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "25" }, root: { type: "string", default: process.cwd() } },
});
if (positionals.length === 0) {
  process.stderr.write("usage: node bench/cpuprofile-top.mjs [--top N] FILE.cpuprofile|DIR ...\n");
  process.exit(2);
}

// Piping into `head` closes stdout early; that is not an error worth a stack trace.
process.stdout.on("error", (err) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

const files = positionals.flatMap((p) =>
  statSync(p).isDirectory()
    ? readdirSync(p)
        .filter((f) => f.endsWith(".cpuprofile"))
        .map((f) => join(p, f))
    : [p],
);

function shortUrl(url) {
  if (!url) return "(native)";
  const path = url.replace(/^file:\/\//, "");
  const nm = path.lastIndexOf("node_modules/");
  if (nm >= 0) return path.slice(nm + "node_modules/".length);
  return path.startsWith("/") ? relative(values.root, path) : path;
}

const byFunction = new Map();
const byScript = new Map();
const byArea = new Map();

/** Coarse owner of a script: an npm package, Node's own code, a top-level folder of this project, or native. */
function area(script) {
  if (script === "(native)") return "(native: GC, builtins, I/O)";
  if (script.startsWith("node:")) return "node core";
  const parts = script.split("/");
  if (parts[0]?.startsWith("@")) return parts.slice(0, 2).join("/");
  if (parts[0] === "dist") return parts.slice(0, 3).join("/");
  return parts[0] ?? script;
}
let totalUs = 0;
let idleUs = 0;
for (const file of files) {
  const prof = JSON.parse(readFileSync(file, "utf8"));
  const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
  // Each sample is charged the interval that follows it, as V8's own tools do.
  const self = new Map();
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = prof.timeDeltas[i + 1] ?? 0;
    self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + dt);
  }
  for (const [id, us] of self) {
    const cf = nodes.get(id)?.callFrame;
    if (!cf) continue;
    const script = shortUrl(cf.url);
    const fn = `${cf.functionName || "(anonymous)"}  ${script}${cf.url ? `:${cf.lineNumber + 1}` : ""}`;
    // Idle is time the event loop waited for I/O; leaving it out makes shares read as "of the busy time".
    if (cf.functionName === "(idle)") {
      idleUs += us;
      continue;
    }
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    byScript.set(script, (byScript.get(script) ?? 0) + us);
    byArea.set(area(script), (byArea.get(area(script)) ?? 0) + us);
    totalUs += us;
  }
}

const top = Number(values.top);
const pct = (us) => `${((100 * us) / totalUs).toFixed(1).padStart(5)}%`;
const ms = (us) => `${(us / 1000).toFixed(0).padStart(8)} ms`;
const print = (title, map) => {
  process.stdout.write(`${title}\n`);
  for (const [k, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${pct(us)} ${ms(us)}  ${k}\n`);
  }
};
const sampled = (totalUs + idleUs) / 1e6;
process.stdout.write(
  `${files.length} profile(s), ${sampled.toFixed(1)} s sampled, ${(totalUs / 1e6).toFixed(1)} s busy (shares below are of busy time)\n\n`,
);
print("self time by function", byFunction);
process.stdout.write("\n");
print("self time by script", byScript);
process.stdout.write("\n");
print("self time by package or folder", byArea);
