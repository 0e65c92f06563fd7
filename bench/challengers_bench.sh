#!/usr/bin/env bash
# Cost of challengers: `ranker replay` of one simulated file with the standard
# model (config/bench.yaml) and 0, 1, 2 and 4 challengers (each the standard
# mmoe with another model.seed, so each costs what the champion costs).
# Runs the four settings side by side RUNS times (interleaved, so machine
# noise hits each alike) and prints per setting the medians of: examples/s of
# the whole replay (every model trained), the champion's learner thread
# finishing time, and the peak RSS; memory per challenger = (RSS_N - RSS_0)/N.
# Usage: bench/challengers_bench.sh [BUILD_DIR] [EVENTS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
events=${2:-200000}
runs=${3:-3}
ranker="$build/cli/ranker"
tmp=$(mktemp -d /tmp/ranker-challengers-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$ranker" simulate --events "$events" --seed 1 --out "$tmp/events.ndjson"
challengers() {  # the --set value of N challengers
  local n=$1 out="" i
  for ((i = 1; i <= n; i++)); do out+="${out:+|}c$i;model.seed=$((100 + i))"; done
  echo "$out"
}
for ((r = 1; r <= runs; r++)); do
  for n in 0 1 2 4; do
    set_args=()
    ((n > 0)) && set_args=(--set "challengers=$(challengers "$n")")
    /usr/bin/time -f '%M' -o "$tmp/rss" "$ranker" replay --config config/bench.yaml \
      "${set_args[@]}" --json --progress-seconds 0 "$tmp/events.ndjson" >"$tmp/out.json"
    python3 - "$n" "$(cat "$tmp/rss")" "$tmp/out.json" >>"$tmp/rows" <<'PY'
import json, sys
n, rss, r = int(sys.argv[1]), int(sys.argv[2]), json.load(open(sys.argv[3]))
champ = r.get("champion_wall_seconds", r["wall_seconds"])
print(n, round(r["examples_per_second"]), round(r["examples_trained"] / champ), rss,
      r.get("challenger_backpressure_waits", 0))
PY
    tail -n1 "$tmp/rows" | awk '{printf "run %d, %d challengers: %s ex/s all, %s ex/s champion, %s KiB\n", '"$r"', $1, $2, $3, $4}' >&2
  done
done
python3 - "$tmp/rows" <<'PY'
import statistics, sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1])]
base = None
print("challengers | replay examples/s (all models) | champion learner examples/s | peak RSS MiB | MiB per challenger | backpressure waits")
for n in (0, 1, 2, 4):
    mine = [r for r in rows if r[0] == n]
    allr, champ, rss, bp = (statistics.median(r[i] for r in mine) for i in (1, 2, 3, 4))
    if n == 0: base = rss
    per = "-" if n == 0 else f"{(rss - base) / n / 1024:.1f}"
    print(f"{n} | {allr:.0f} | {champ:.0f} | {rss / 1024:.1f} | {per} | {bp:.0f}")
PY
