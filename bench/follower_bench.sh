#!/usr/bin/env bash
# Serving replicas following the learner (issue 8): `ranker broker`, one
# leader (`ranker serve`, standard model = config/bench.yaml) learning from
# `ranker simulate --rate RATE`, and two followers (`serve --role follower`)
# rebuilding its model from the model topic. Prints:
#  - leader -> follower delay p50/p99 (ms) from each follower's
#    ranker_follower_apply_delay_seconds histogram over the run, measured
#    from the leader's publication (includes waiting up to
#    model_topic.interval_ms for the next broadcast) and from the leader's
#    send of the commit (topic + rebuild); quantiles interpolated within
#    histogram buckets, so coarse;
#  - bytes/s the leader produced to the model topic, and broadcasts/s;
#  - whether both followers ended on the leader's param_checksum;
#  - POST /v1/rank throughput (wrk, 500 candidates) on one follower, then on
#    both at once (one wrk per follower), while the leader learns.
#
# Usage: bench/follower_bench.sh [BUILD_DIR] [RATE] [SECONDS]
#   defaults: build 10000 30; WRK_SECONDS (10), WRK_CONNECTIONS (4),
#   INTERVAL_MS (model_topic.interval_ms, 1000), RANK_CANDIDATES (500)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rate=${2:-10000}
seconds=${3:-30}
wrk_seconds=${WRK_SECONDS:-10}
conns=${WRK_CONNECTIONS:-4}
candidates=${RANK_CANDIDATES:-500}
ranker="$build/cli/ranker"
source bench/lib.sh
bench_require follower_bench.sh "$ranker" wrk python3 curl

tmp=$(mktemp -d /tmp/ranker-follower-bench.XXXXXX)
trap bench_cleanup EXIT

url_of() { first_line "$1" | sed 's/^listening on //; s#/$##'; }
metric() {  # sum of every sample of metric $2 at $1/metrics
  curl -sf "$1/metrics" | awk -v m="$2" '$1 == m || index($1, m "{") == 1 {s += $2} END {printf "%.6f\n", s}'
}
checksum() {  # "version/param_checksum" served at $1
  curl -sf "$1/v1/model" |
    python3 -c 'import json,sys; m = json.load(sys.stdin); print(m["model_version"], m["param_checksum"], sep="/")'
}

# The rank request body (as bench/wrk_rank.sh builds it).
"$ranker" simulate --events 60000 --seed 7 --out "$tmp/events.ndjson"
python3 - "$tmp/events.ndjson" "$candidates" >"$tmp/body.json" <<'PY'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
user, items = None, {}
for line in open(path):
    e = json.loads(line)
    if e["type"] != "impression":
        continue
    dense = e.get("dense", {})
    if user is None:
        user = {"user_id": e["user_id"], "user": e["user"], "context": e["context"],
                "dense": {k: v for k, v in dense.items() if not k.startswith("item_")}}
    items.setdefault(e["item_id"], {"item_id": e["item_id"], "item": e["item"],
                     "dense": {k: v for k, v in dense.items() if k.startswith("item_")}})
    if len(items) == n:
        break
json.dump(dict(user, request_id="wrk", candidates=list(items.values())), sys.stdout)
PY

"$ranker" broker --partitions 6 >"$tmp/broker.out" 2>"$tmp/broker.err" &
pids+=($!)
brokers=$(first_line "$tmp/broker.out")
common=(--config config/bench.yaml --brokers "$brokers" --http 127.0.0.1:0
        --set kafka.fetch.wait.max.ms=10 --set ingest.log_kafka_errors=false
        --set "model_topic.interval_ms=${INTERVAL_MS:-1000}")
for f in 1 2; do
  "$ranker" serve "${common[@]}" --role follower >"$tmp/f$f.out" 2>"$tmp/f$f.err" &
  pids+=($!)
done
"$ranker" serve "${common[@]}" >"$tmp/leader.out" 2>"$tmp/leader.err" &
pids+=($!)
leader=$(url_of "$tmp/leader.out")
f1=$(url_of "$tmp/f1.out")
f2=$(url_of "$tmp/f2.out")
for u in "$f1" "$f2"; do
  for _ in $(seq 300); do curl -sf -o /dev/null "$u/readyz" && break; sleep 0.1; done
done
echo "broker $brokers, leader $leader, followers $f1 $f2; $rate events/s for ${seconds}s"

hist() {  # "<le> <cumulative count>" lines of the delay histogram, from=$2, at $1
  curl -sf "$1/metrics" | awk -v from="$2" '
    /^ranker_follower_apply_delay_seconds_bucket\{/ && index($0, "from=\"" from "\"") {
      match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5); print le, $2 }'
}
for f in 1 2; do for from in published sent; do
  hist "$([[ $f == 1 ]] && echo "$f1" || echo "$f2")" "$from" >"$tmp/h0.$f.$from"
done; done
bytes0=$(metric "$leader" ranker_model_topic_bytes_total)
casts0=$(metric "$leader" ranker_model_topic_broadcasts_total)
events0=$(metric "$leader" ranker_events_consumed_total)
start=$(date +%s.%N)
"$ranker" simulate --brokers "$brokers" --rate "$rate" --seed 1 >/dev/null 2>"$tmp/sim.err" &
sim=$!
pids+=($sim)
sleep "$seconds"
wrk_one=$(RANK_BODY="$tmp/body.json" wrk -t1 -c"$conns" -d"${wrk_seconds}s" --timeout 5s \
            -s bench/wrk_rank.lua "$f1" | grep '^RESULT')
RANK_BODY="$tmp/body.json" wrk -t1 -c"$conns" -d"${wrk_seconds}s" --timeout 5s \
  -s bench/wrk_rank.lua "$f1" >"$tmp/wrk1" &
w1=$!
RANK_BODY="$tmp/body.json" wrk -t1 -c"$conns" -d"${wrk_seconds}s" --timeout 5s \
  -s bench/wrk_rank.lua "$f2" >"$tmp/wrk2" &
w2=$!
wait "$w1" "$w2"
kill "$sim"
end=$(date +%s.%N)
bytes1=$(metric "$leader" ranker_model_topic_bytes_total)
casts1=$(metric "$leader" ranker_model_topic_broadcasts_total)
events1=$(metric "$leader" ranker_events_consumed_total)
for f in 1 2; do for from in published sent; do
  hist "$([[ $f == 1 ]] && echo "$f1" || echo "$f2")" "$from" >"$tmp/h1.$f.$from"
done; done

python3 - "$tmp" <<'PY'
import sys
tmp = sys.argv[1]
def load(p):
    return [(float("inf") if le == "+Inf" else float(le), float(c)) for le, c in
            (line.split() for line in open(p))]
def quantile(q, before, after):
    b = [(le, c1 - c0) for (le, c1), (_, c0) in zip(after, before)]
    total = b[-1][1]
    if total == 0:
        return float("nan"), 0
    lo, prev = 0.0, 0.0
    for le, c in b:
        if c >= q * total:
            if le == float("inf"):
                return lo * 1000, total
            return (lo + (le - lo) * (q * total - prev) / max(c - prev, 1e-9)) * 1000, total
        lo, prev = le, c
    return float("nan"), total
for f in (1, 2):
    for frm in ("published", "sent"):
        a, b = load(f"{tmp}/h0.{f}.{frm}"), load(f"{tmp}/h1.{f}.{frm}")
        p50, n = quantile(0.5, a, b)
        p99, _ = quantile(0.99, a, b)
        print(f"follower {f} delay from {frm:9s}: p50 {p50:8.1f} ms  p99 {p99:8.1f} ms  ({n:.0f} versions)")
PY
calc() { awk "BEGIN {print $1}"; }
wall=$(calc "$end - $start")
echo "leader: $(calc "($events1 - $events0) / $wall") events/s learned," \
  "$(calc "($bytes1 - $bytes0) / $wall / 1e6") MB/s to the model topic," \
  "$(calc "($casts1 - $casts0) / $wall") broadcasts/s"
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
r1=$(grep '^RESULT' "$tmp/wrk1"); r2=$(grep '^RESULT' "$tmp/wrk2")
echo "rank on one follower:  $(field rps "$wrk_one") req/s, p50 $(field p50_ms "$wrk_one") ms, p99 $(field p99_ms "$wrk_one") ms"
echo "rank on two followers: $(calc "$(field rps "$r1") + $(field rps "$r2")") req/s in all" \
  "($(field rps "$r1") + $(field rps "$r2")), p50 $(field p50_ms "$r1")/$(field p50_ms "$r2") ms," \
  "p99 $(field p99_ms "$r1")/$(field p99_ms "$r2") ms"
# After the stream stops, both followers serve the leader's final model.
for _ in $(seq 300); do
  want=$(checksum "$leader")
  [[ $(checksum "$f1") == "$want" && $(checksum "$f2") == "$want" ]] && break
  sleep 0.1
done
echo "param_checksum leader $want, followers $(checksum "$f1") $(checksum "$f2")"
for f in "$f1" "$f2"; do
  echo "follower $f: commits applied $(metric "$f" 'ranker_follower_commits_total{result="applied"}')" \
    "rejected $(metric "$f" 'ranker_follower_commits_total{result="rejected"}')," \
    "version lag $(metric "$f" ranker_follower_version_lag)"
done
grep -h "rejected" "$tmp"/f[12].err | sort | uniq -c | head -5 || true
