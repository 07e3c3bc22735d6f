#!/usr/bin/env bash
# Re-captures the golden BGP messages in test/golden/ (needs root, FRR, GoBGP, tcpdump, tshark).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
TS_NODE_TRANSPILE_ONLY=1 exec node --import=@tapjs/typescript/import scripts/capture-golden.ts "$@"
