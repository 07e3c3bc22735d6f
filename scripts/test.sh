#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, runs unit tests, the npm package
# test, then namespace tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm ci --no-audit --no-fund
npx tsc -p tsconfig.json
# Unit tests inject their clocks and share no state: two at a time on the two cores.
npx tap -R tap --jobs 2 test/unit
# The packed npm package, installed without dev dependencies, runs `peer` sessions.
npx tap -R tap test/package
if [ "$(id -u)" = 0 ]; then
  npx tap -R tap test/netns
else
  echo "not root: skipping namespace tests" >&2
fi
