#!/usr/bin/env bash
# The delayed-feedback report (issue 16): one simulated stream, with and
# without a long tail of click delays, replayed with a 60 s window, a 5 s
# window, and join.mode immediate (60 s window) with each join.correction:
# fnw (fake-negative weighting, the default; also without its warm-up,
# join.immediate_warmup_ms=0), pu (positive-unlabeled loss), defer (DEFER
# with a zero wait).
# Per run: click AUC and logloss (progressive: each impression scored once
# before training, against its matured label), calibration (mean predicted
# CTR over the observed CTR of the matured labels, and over the simulator's
# ground-truth CTR: the mean truth.click_probability), click AUC against
# the truth (every click, beyond the window too), feedback delay p50/p99
# (replay --json's progressive.click.truth).
# Usage: bench/delayed_feedback.sh [RANKER] [EVENTS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
ranker=${1:-build/cli/ranker}
events=${2:-200000}
seed=${3:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '| stream | join | click AUC | logloss | pred/observed | pred/truth | truth AUC | delay p50 ms | delay p99 ms |\n'
printf '| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
for tail in 0 1.5; do
  file="$tmp/sim-$tail.ndjson"
  "$ranker" simulate --events "$events" --seed "$seed" --delay-tail "$tail" --out "$file"
  for join in "join.window_ms=60000" "join.window_ms=5000" "join.mode=immediate" \
    "join.mode=immediate join.immediate_warmup_ms=0" "join.mode=immediate join.correction=pu" \
    "join.mode=immediate join.correction=defer"; do
    sets=()
    for kv in $join; do sets+=(--set "$kv"); done
    "$ranker" replay --json --progress-seconds 0 "${sets[@]}" "$file" >"$tmp/out.json"
    python3 - "$tmp/out.json" "$tail" "$join" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
c = r["progressive"]["click"]
observed = c["positives"] / c["count"]
d = r["feedback_delay_ms"]
stream = "long tail (%s)" % sys.argv[2] if sys.argv[2] != "0" else "capped delays"
t = c["truth"]
print("| %s | %s | %.4f | %.4f | %.3f | %.3f | %.4f | %.0f | %.0f |" % (
    stream, sys.argv[3], c["auc"], c["logloss"], c["mean_prediction"] / observed,
    t["calibration"], t["auc"], d["p50"], d["p99"]))
PY
  done
done
