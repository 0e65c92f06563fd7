#!/usr/bin/env bash
# Issue 17's serving target: the champion's event -> served p99 with 4
# challengers against none, side by side. Each run is one `ranker demo`
# (broker, simulated world at --rate, learner, API in one process) for
# SECONDS; the figure is the champion's feedback_publish_delay_ms p99 of
# GET /v1/model at the end: wall time from the learner consuming a click to
# the first published (served) version that learned from it. The settings
# alternate (0, 4, 0, 4, ...) so machine noise hits both alike; prints each
# run and the medians. Challengers are the standard mmoe with other seeds
# (each costs what the champion costs). Keep RATE below what the challenger
# thread trains (BENCHMARKS.md "Challengers"), or the learner is paced by
# backpressure by design.
# The delay includes the join window (window mode: an example leaves the
# joiner when its window closes), so pass join.mode=immediate to see the
# learner and publication alone.
# Usage: bench/challengers_served_bench.sh [RANKER] [RATE] [SECONDS] [RUNS] [KEY=VALUE...]
#   each KEY=VALUE is passed as --set to every run
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ranker=${1:-build/cli/ranker}
rate=${2:-1000}
seconds=${3:-60}
runs=${4:-2}
shift $(($# < 4 ? $# : 4))
extra=()
for kv in "$@"; do extra+=(--set "$kv"); done
bench_require challengers_served_bench "$ranker" curl python3
tmp=$(mktemp -d /tmp/ranker-served-bench.XXXXXX)
trap bench_cleanup EXIT
port=$((18000 + RANDOM % 1000))
challengers="c1;model.seed=101|c2;model.seed=102|c3;model.seed=103|c4;model.seed=104"
for ((r = 1; r <= runs; r++)); do
  for n in 0 4; do
    args=(--config config/bench.yaml --http "127.0.0.1:$port" --rate "$rate"
      --set "snapshot.dir=$tmp/snap-$r-$n" "${extra[@]}")
    ((n > 0)) && args+=(--set "challengers=$challengers")
    "$ranker" demo "${args[@]}" >"$tmp/demo-$r-$n.log" 2>&1 &
    pids+=($!)
    sleep "$seconds"
    curl -sf "http://127.0.0.1:$port/v1/model" >"$tmp/model.json"
    curl -sf "http://127.0.0.1:$port/v1/models" >"$tmp/models.json" || echo '{}' >"$tmp/models.json"
    kill "${pids[-1]}"
    wait "${pids[-1]}" 2>/dev/null || true
    unset 'pids[-1]'
    python3 - "$n" "$tmp/model.json" "$tmp/models.json" >>"$tmp/rows" <<'PY'
import json, sys
n, m, ms = int(sys.argv[1]), json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
d = m["feedback_publish_delay_ms"]
lag = max([e.get("lag_examples", 0) for e in ms.get("models", [])] or [0])
print(n, d["p50"], d["p99"], d["count"], m.get("examples_trained", 0), lag)
PY
    tail -n1 "$tmp/rows" | awk -v r="$r" '{printf "run %d, %d challengers: p50 %s ms, p99 %s ms (%s clicks), %s examples, challenger lag %s\n", r, $1, $2, $3, $4, $5, $6}'
    port=$((port + 1))
  done
done
python3 - "$tmp/rows" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {n: statistics.median(float(r[2]) for r in rows if int(r[0]) == n) for n in (0, 4)}
p50 = {n: statistics.median(float(r[1]) for r in rows if int(r[0]) == n) for n in (0, 4)}
print(f"median p99: 0 challengers {med[0]:.0f} ms, 4 challengers {med[4]:.0f} ms, ratio {med[4] / med[0]:.3f}")
print(f"median p50: 0 challengers {p50[0]:.0f} ms, 4 challengers {p50[4]:.0f} ms")
PY
