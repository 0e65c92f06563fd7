#!/usr/bin/env bash
# The main job on the embedded defaults. Installs what is missing, builds,
# then simulates a world and trains the standard model on it, printing
# progressive metrics as it learns.
# Usage: scripts/demo.sh [EVENTS]   (default 300000 events)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build >/dev/null
events=${1:-300000}
./build/app/ranker simulate --events "$events" --seed 1 | ./build/app/ranker replay -
