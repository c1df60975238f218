#!/usr/bin/env bash
# The project's one test command (npm test): static checks, a build, then
# every unit and integration test. Integration tests start their own Kafka
# (fetched with Maven on first use) on loopback; nothing needs to run first.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== buf lint"
npx buf lint
echo "== generated protobuf code is up to date"
node scripts/check-generated.mjs
echo "== biome"
npx biome check .
echo "== typecheck"
npx tsc -p tsconfig.json --noEmit
echo "== build"
npm run build --silent
echo "== tests"
mkdir -p .cache
results=.cache/vitest-results.json
status=0
rm -f "$results"
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || status=$?
# One plain closing line, the same for every runner that reads test output.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$results" || true
exit "$status"
