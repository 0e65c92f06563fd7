#!/usr/bin/env bash
# End-to-end replay throughput: `ranker replay` on a simulated file, standard
# model (config/bench.yaml), reported as examples/s (median of RUNS runs).
# Usage: bench/replay_bench.sh [BUILD_DIR] [EVENTS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
events=${2:-300000}
runs=${3:-3}
ranker="$build/cli/ranker"
file=$(mktemp /tmp/ranker-replay-bench.XXXXXX.ndjson)
trap 'rm -f "$file"' EXIT
"$ranker" simulate --events "$events" --seed 1 --out "$file"
rates=()
for i in $(seq "$runs"); do
  rate=$("$ranker" replay --config config/bench.yaml --json --progress-seconds 0 "$file" |
         python3 -c 'import json,sys; r=json.load(sys.stdin); print(round(r["examples_per_second"]))')
  echo "run $i: $rate examples/s" >&2
  rates+=("$rate")
done
printf '%s\n' "${rates[@]}" | sort -n | awk '{a[NR]=$1} END {print "replay median examples/s:", a[int((NR+1)/2)]}'
