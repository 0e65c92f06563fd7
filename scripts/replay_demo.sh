#!/usr/bin/env bash
# The offline pipeline on the embedded defaults: simulates a world and
# trains the standard model on it through `ranker replay`, printing
# progressive metrics as it learns. No broker, no HTTP.
# Usage: scripts/replay_demo.sh [EVENTS]   (default 300000 events)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build >/dev/null
events=${1:-300000}
./build/cli/ranker simulate --events "$events" --seed 1 | ./build/cli/ranker replay -
