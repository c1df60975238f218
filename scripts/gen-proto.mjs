#!/usr/bin/env node
// Regenerates proto/gen/ from proto/ with buf and protoc-gen-es.
// proto/gen/ is output only: change the .proto files and rerun this.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = process.argv[2] ?? "proto/gen";
rmSync(join(root, out), { recursive: true, force: true });
const template = JSON.stringify({
  version: "v2",
  inputs: [{ directory: "proto" }],
  plugins: [
    {
      local: join(root, "node_modules/.bin/protoc-gen-es"),
      out,
      include_wkt: false,
      opt: ["target=ts", "import_extension=js"],
    },
  ],
});
execFileSync(join(root, "node_modules/.bin/buf"), ["generate", "--template", template], {
  cwd: root,
  stdio: "inherit",
});
