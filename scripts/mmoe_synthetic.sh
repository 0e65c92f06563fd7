#!/usr/bin/env bash
# The task-correlation sweep of Ma et al. 2018 (section 3.2) on this
# implementation: per correlation, one synthetic stream
# (`ranker simulate --mmoe-synthetic`), replayed once per architecture; the
# progressive RMSE of both tasks over the last `train.metrics_window`
# examples. Usage: scripts/mmoe_synthetic.sh [BUILD_DIR] [EVENTS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
events=${2:-50000}
seed=${3:-1}
ranker="$build/cli/ranker"
[ -x "$ranker" ] || ranker="$build/app/ranker"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| correlation | architecture | y1 RMSE (last 10k) | y2 RMSE (last 10k) | mean |"
echo "| --- | --- | --- | --- | --- |"
for c in 1.0 0.9 0.5 0.1 0.0; do
  "$ranker" simulate --mmoe-synthetic --correlation "$c" --events "$events" --seed "$seed" \
      --out "$tmp/s.ndjson"
  for arch in shared_bottom omoe mmoe ple independent; do
    "$ranker" replay --config config/mmoe_synthetic.yaml --set model.architecture=$arch --json \
        --progress-seconds 0 "$tmp/s.ndjson" | python3 -c '
import json, sys
r = json.load(sys.stdin); p = r["progressive"]
a, b = p["y1"]["window_rmse"], p["y2"]["window_rmse"]
print("| %s | %s | %.4f | %.4f | %.4f |" % (sys.argv[1], r["architecture"], a, b, (a + b) / 2))' "$c"
  done
done
