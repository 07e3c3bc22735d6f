#!/usr/bin/env bash
# The README's first command: as root on a fresh Debian machine, installs what the
# demo needs (scripts/install-deps.sh: iproute2, iputils-ping, iptables, ...),
# runs `npm ci` unless node_modules is already up to date, builds (tsc), and runs
# the two-network failover demo: `evpn-ha demo "$@"` (docs/demo.md).
#   bash scripts/demo.sh            # the whole demo, then everything is removed
#   bash scripts/demo.sh --keep     # leave the topology up and print how to explore it
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "scripts/demo.sh: the demo needs root (it creates network namespaces): sudo bash scripts/demo.sh" >&2
  exit 1
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "scripts/demo.sh: Node.js >= 20.19 with npm is needed (https://nodejs.org, or NodeSource's Debian packages)" >&2
  exit 1
fi
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "scripts/demo.sh: Node.js $(node --version) is too old: evpn-ha needs >= 20.19" >&2
  exit 1
fi

echo "== installing Debian packages (scripts/install-deps.sh) =="
bash scripts/install-deps.sh

# npm keeps a copy of the lockfile it installed in node_modules/.package-lock.json.
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ] \
   && [ node_modules/.package-lock.json -nt package.json ]; then
  echo "== node_modules is up to date (skipping npm ci) =="
else
  echo "== npm ci =="
  npm ci --no-audit --no-fund
fi

echo "== building (npx tsc -p tsconfig.json) =="
if ! npx tsc -p tsconfig.json; then
  if [ -f build/src/cli/main.js ]; then
    echo "scripts/demo.sh: tsc reported errors (above); running the emitted build anyway" >&2
  else
    echo "scripts/demo.sh: the build failed" >&2
    exit 1
  fi
fi

exec node bin/evpn-ha demo "$@"
