#!/usr/bin/env bash
# The offline pipeline on the embedded defaults: simulates a world and
# trains the standard model on it through `ranker replay`, printing
# progressive metrics as it learns. No broker, no HTTP. Builds in the test
# command's tree (scripts/plain_tree.sh).
# Usage: scripts/replay_demo.sh [EVENTS]   (default 300000 events)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/plain_tree.sh
plain_build ranker >/dev/null
events=${1:-300000}
ranker=$(plain_ranker)
"$ranker" simulate --events "$events" --seed 1 | "$ranker" replay -
