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
npx vitest run "$@"
