#!/usr/bin/env bash
# Serving latency under learning load: wrk POSTs /v1/rank (500 candidates,
# standard model = config/bench.yaml) to `ranker serve`, while the same
# service consumes simulated events from `ranker broker` produced by
# `ranker simulate --brokers --rate`. For each wrk connection count it prints
# wrk's requests/s and p50/p90/p99 latency, the events/s the learner consumed
# during that run and the consumer lag at its end (both from /metrics), and
# the server-side mean /v1/rank time (from the HTTP latency histogram). Then
# it runs the in-process scoring benchmark (bench/bench_score.cc) on the same
# machine for the HTTP-p50 / in-process ratio.
#
# Usage: bench/wrk_rank.sh [BUILD_DIR] [RATE] [SECONDS] [CONNECTIONS...]
#   defaults: build 10000 10 1 4 16
#   RANK_CANDIDATES (500), RANK_K (unset = all candidates answered),
#   WRK_THREADS (2), RANK_PARTITIONS (6), SERVE_SET ("": extra --set k=v, space-separated)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rate=${2:-10000}
seconds=${3:-10}
shift $(($# < 3 ? $# : 3))
connections=("$@")
[[ ${#connections[@]} -gt 0 ]] || connections=(1 4 16)
candidates=${RANK_CANDIDATES:-500}
threads=${WRK_THREADS:-2}
ranker="$build/cli/ranker"
source bench/lib.sh
bench_require wrk_rank.sh "$ranker" wrk python3 curl

tmp=$(mktemp -d /tmp/ranker-wrk-rank.XXXXXX)
trap bench_cleanup EXIT

# Evaluates the arithmetic expression $1 (numbers may use e notation).
calc() { awk "BEGIN {print $1}"; }

# The sum of the samples of metric $1 (a bare name: every label set) in /metrics.
metric() {
  curl -sf "$url/metrics" | awk -v m="$1" '$1 == m || index($1, m "{") == 1 {s += $2} END {printf "%.6f\n", s}'
}

# The server's /v1/rank time: sum and count of the histogram, status 200.
rank_histogram() {
  curl -sf "$url/metrics" | awk '
    /^ranker_http_request_duration_seconds_(sum|count)\{/ && /route="\/v1\/rank"/ && /status="200"/ {
      if ($1 ~ /_sum/) s = $2; else c = $2 }
    END {printf "%s %s\n", s + 0, c + 0}'
}

# The request body: one simulated user and the first $candidates distinct
# items of the simulated world, with the features the simulator logs.
"$ranker" simulate --events 60000 --seed 7 --out "$tmp/events.ndjson"
python3 - "$tmp/events.ndjson" "$candidates" "${RANK_K:-}" >"$tmp/body.json" <<'EOF'
import json, sys
path, n, k = sys.argv[1], int(sys.argv[2]), sys.argv[3]
user, items = None, {}
with open(path) as f:
    for line in f:
        e = json.loads(line)
        if e["type"] != "impression":
            continue
        dense = e.get("dense", {})
        if user is None:
            user = {"user_id": e["user_id"], "user": e["user"], "context": e["context"],
                    "dense": {k2: v for k2, v in dense.items() if not k2.startswith("item_")}}
        if e["item_id"] not in items:
            items[e["item_id"]] = {"item_id": e["item_id"], "item": e["item"],
                                   "dense": {k2: v for k2, v in dense.items() if k2.startswith("item_")}}
        if len(items) == n:
            break
if len(items) < n:
    sys.exit(f"only {len(items)} distinct items in {path}")
body = dict(user, request_id="wrk", candidates=list(items.values()))
if k:
    body["k"] = int(k)
json.dump(body, sys.stdout, separators=(",", ":"))
EOF
echo "body: $candidates candidates, $(wc -c <"$tmp/body.json") bytes, k=${RANK_K:-all}"

"$ranker" broker --partitions "${RANK_PARTITIONS:-6}" >"$tmp/broker.out" 2>"$tmp/broker.err" &
pids+=($!)
brokers=$(first_line "$tmp/broker.out")
serve_sets=(--set kafka.fetch.wait.max.ms=10 --set ingest.log_kafka_errors=false)
for kv in ${SERVE_SET:-}; do serve_sets+=(--set "$kv"); done
"$ranker" serve --config config/bench.yaml --brokers "$brokers" --http 127.0.0.1:0 \
  "${serve_sets[@]}" >"$tmp/serve.out" 2>"$tmp/serve.err" &
pids+=($!)
url=$(first_line "$tmp/serve.out" | sed 's/^listening on //; s#/$##')
"$ranker" simulate --brokers "$brokers" --rate "$rate" --seed 1 >/dev/null 2>"$tmp/sim.err" &
pids+=($!)
echo "broker $brokers, service $url, producing $rate events/s"

# Warm-up: the consumer group joins, the model learns a few seconds of
# events, and the first rank requests fill the caches.
for _ in $(seq 200); do
  [[ $(metric ranker_events_consumed_total) != 0.000000 ]] && break
  sleep 0.1
done
RANK_BODY="$tmp/body.json" wrk -t1 -c1 -d3s -s bench/wrk_rank.lua "$url" >/dev/null

printf '%-5s %9s %9s %9s %9s %9s %10s %9s %10s %7s\n' conns req/s p50_ms p90_ms p99_ms max_ms \
  server_ms events/s lag_end errors
p50s=()
for c in "${connections[@]}"; do
  t=$((threads < c ? threads : c))
  consumed0=$(metric ranker_events_consumed_total)
  read -r sum0 count0 < <(rank_histogram)
  start=$(date +%s.%N)
  out=$(RANK_BODY="$tmp/body.json" wrk -t"$t" -c"$c" -d"${seconds}s" --timeout 5s \
          -s bench/wrk_rank.lua "$url")
  end=$(date +%s.%N)
  consumed1=$(metric ranker_events_consumed_total)
  read -r sum1 count1 < <(rank_histogram)
  lag=$(metric ranker_consumer_lag_messages)
  line=$(grep '^RESULT' <<<"$out")
  field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
  printf '%-5s %9s %9s %9s %9s %9s %10.3f %9.0f %10.0f %7s\n' "$c" "$(field rps)" \
    "$(field p50_ms)" "$(field p90_ms)" "$(field p99_ms)" "$(field max_ms)" \
    "$(calc "($sum1 - $sum0) * 1000 / ($count1 - $count0 + 1e-9)")" \
    "$(calc "($consumed1 - $consumed0) / ($end - $start)")" "$lag" \
    "$(($(field errors) + $(field non2xx)))"
  p50s+=("$(field p50_ms)")
done

kill "${pids[2]}" 2>/dev/null || true  # stop producing before the in-process benchmark
bench_bin="$build/bench/ranker_bench_score"
if [[ -x $bench_bin ]]; then
  score_us=$("$bench_bin" --benchmark_filter='BM_Score/500' --benchmark_repetitions=3 \
               --benchmark_report_aggregates_only=true --benchmark_format=json |
             python3 -c 'import json,sys
r = [b for b in json.load(sys.stdin)["benchmarks"] if b.get("aggregate_name") == "median"]
print(r[0]["real_time"])')
  echo "in-process scoring of 500 candidates (BM_Score/500, median of 3): ${score_us} us"
  for i in "${!connections[@]}"; do
    printf 'HTTP p50 / in-process, %s connection(s): %.2f\n' "${connections[$i]}" \
      "$(calc "${p50s[$i]} * 1000 / $score_us")"
  done
else
  echo "($bench_bin not built: no in-process comparison)"
fi
