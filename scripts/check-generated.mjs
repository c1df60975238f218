#!/usr/bin/env node
// Fails when proto/gen differs from what scripts/gen-proto.mjs produces now,
// so generated code is never edited by hand or left stale.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const scratch = mkdtempSync(join(tmpdir(), "sluice-gen-"));
const out = relative(root, scratch);
try {
  execFileSync(process.execPath, [join(root, "scripts/gen-proto.mjs"), out], { cwd: root, stdio: "inherit" });
  const files = (dir) =>
    readdirSync(dir).flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? files(p) : [p];
    });
  const want = files(scratch)
    .map((p) => relative(scratch, p))
    .sort();
  const have = files(join(root, "proto/gen"))
    .map((p) => relative(join(root, "proto/gen"), p))
    .sort();
  const stale = [];
  if (want.join("\n") !== have.join("\n")) stale.push("file list differs");
  for (const f of want) {
    const a = readFileSync(join(scratch, f));
    let b;
    try {
      b = readFileSync(join(root, "proto/gen", f));
    } catch {
      continue;
    }
    if (!a.equals(b)) stale.push(f);
  }
  if (stale.length) {
    console.error(`proto/gen is stale (${stale.join(", ")}); run: npm run gen:proto`);
    process.exit(1);
  }
  console.log("proto/gen matches the protos");
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
