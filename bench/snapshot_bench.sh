#!/usr/bin/env bash
# Snapshot cost at ~1M embedding rows and serving latency during snapshots
# (bench/bench_snapshot.cc), RUNS times in a row; quote the medians.
# Usage: bench/snapshot_bench.sh [BUILD_DIR] [RUNS] [extra flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
runs=${2:-2}
shift $(($# < 2 ? $# : 2))
bin="$build/bench/ranker_bench_snapshot"
for i in $(seq "$runs"); do
  echo "=== run $i of $runs"
  "$bin" --config config/bench.yaml "$@"
done
