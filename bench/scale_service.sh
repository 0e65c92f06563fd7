#!/usr/bin/env bash
# The model state's cost curve through the service (issue #14), one size at
# a time: for N rows,
#  1. ranker_bench_scale_data writes a data dir holding an N-row snapshot of
#     the standard model (rows grown directly, written by the service's own
#     Snapshotter into RocksDB);
#  2. `ranker broker` (in-memory, 6 partitions) and `ranker serve --config
#     config/bench.yaml --data-dir D` start; restart time = process start to
#     /readyz 200 (the snapshot streamed into the table), then to consuming
#     (the first event batch served);
#  3. bench/scale_service_load.py POSTs `example` events with fresh ids (two
#     new rows each) to /v1/events at RATE/s (produced to the broker,
#     consumed, learned, published) and times each batch of 100 until the
#     served version's events_consumed covers it (event -> served), in three
#     phases: SECONDS_RUN s of learning only, then WRK_SECONDS s with wrk
#     POSTing /v1/rank with 500 candidates at 1 connection, then WRK_SECONDS
#     s at 4 connections (bench/wrk_rank.lua). wrk is closed-loop: at 4
#     connections it asks for more than the 2 cores have, so event -> served
#     is reported per phase, the first being the issue's figure;
#  4. from /metrics and /proc: publication time and rows, the last
#     snapshot's learner pause and write time and rows (snapshot.interval_ms
#     is set so that a snapshot carries ~1% of the rows at RATE), RSS and
#     bytes per row.
#  5. with FOLLOWER=1: the broker is a real one (scripts/kafka.sh, which a
#     full checkpoint of millions of rows needs), the leader broadcasts to the
#     model topic, and a follower (`serve --role follower`) starts once the
#     leader is ready: its catch-up time (start to serving the leader's
#     checkpoint) and its apply delay p50/p99 during the load (from
#     ranker_follower_apply_delay_seconds{from="published"}, interpolated
#     within histogram buckets). Without it the model topic is off (the
#     in-memory broker keeps ~5 MB per partition).
# Usage: bench/scale_service.sh BUILD_DIR [SIZES...]   (default 1000000 3000000 10000000)
#   RATE (10000 events/s), SECONDS_RUN (30: the learning-only phase), WRK_SECONDS (8 per
#   connection count), KEEP_DATA=1 keeps the data dirs,
#   SNAPSHOT_MS (snapshot.interval_ms; default: ~1% of the rows at RATE), FOLLOWER=1,
#   SERVE_SET="key=value ..." more --set flags for the leader (e.g. http.score_threads=1)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(1000000 3000000 10000000)
rate=${RATE:-10000}
seconds=${SECONDS_RUN:-30}
wrk_seconds=${WRK_SECONDS:-8}
ranker="$build/cli/ranker"
serve_set=()
for kv in ${SERVE_SET:-}; do serve_set+=(--set "$kv"); done
source bench/lib.sh
bench_require scale_service.sh "$ranker" wrk python3 curl
[[ -x $build/bench/ranker_bench_scale_data ]] || {
  echo "scale_service.sh: build ranker_bench_scale_data first" >&2
  exit 1
}

tmp=$(mktemp -d /tmp/ranker-scale-service.XXXXXX)
trap bench_cleanup EXIT

calc() { awk "BEGIN {print $1}"; }
metric() {  # the sum of the samples of metric $1 at $url/metrics
  curl -sf "$url/metrics" | awk -v m="$1" '$1 == m || index($1, m "{") == 1 {s += $2} END {printf "%.6f\n", s}'
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
hist() {  # "<le> <cumulative count>" of the follower's apply delay from publication, at $1
  curl -sf "$1/metrics" | awk '
    /^ranker_follower_apply_delay_seconds_bucket\{/ && index($0, "from=\"published\"") {
      match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5); print le, $2 }'
}

# The rank request: one user, 500 candidates with item features.
python3 - >"$tmp/body.json" <<'PY'
import json
cands = [{"item_id": f"si{i * 37}", "item": {"category": f"k{i % 50}", "author": f"w{i % 997}"},
          "dense": {f"d{j}": ((i * (j + 3)) % 100) / 100.0 for j in range(8)}} for i in range(500)]
print(json.dumps({"user_id": "su1", "user": {"age": "a1", "country": "c1", "plan": "p1"},
                  "context": {"device": "mobile"}, "request_id": "wrk", "candidates": cands}))
PY

echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%FT%TZ);" \
  "load $(cut -d' ' -f1-3 /proc/loadavg); rate $rate events/s for ${seconds}s"
for n in "${sizes[@]}"; do
  echo "=== $n rows"
  data="$tmp/data-$n"
  "$build/bench/ranker_bench_scale_data" --rows "$n" --data-dir "$data" | sed 's/^/data: /'
  topic_flag=(--set model_topic.enabled=false)
  if [[ ${FOLLOWER:-0} == 1 ]]; then
    brokers=$(RANKER_KAFKA_PARENT_PID=$$ scripts/kafka.sh start "$tmp/kafka-$n" 0)
    broker_pid=$(cat "$tmp/kafka-$n/kafka.pid")
    for t in ranker.events:6 ranker.model:1; do
      scripts/kafka.sh topic "$tmp/kafka-$n" "${t%:*}" "${t#*:}" >/dev/null
    done
    topic_flag=(--set model_topic.enabled=true)
  else
    "$ranker" broker --partitions 6 >"$tmp/broker.out" 2>"$tmp/broker.err" &
    broker_pid=$!
    brokers=$(first_line "$tmp/broker.out")
  fi
  pids+=($broker_pid)
  port=$(free_port)
  url="http://127.0.0.1:$port"
  # A snapshot every ~1% of the table at `rate` events/s (2 new rows each).
  interval_ms=${SNAPSHOT_MS:-$(calc "int($n / 100 / (2 * $rate) * 1000)")}
  t0=$(now)
  "$ranker" serve --config config/bench.yaml --brokers "$brokers" --data-dir "$data" \
    --http "127.0.0.1:$port" --set kafka.fetch.wait.max.ms=10 --set ingest.log_kafka_errors=false \
    --set "snapshot.interval_ms=$interval_ms" --set snapshot.on_stop=false "${topic_flag[@]}" \
    "${serve_set[@]}" >"$tmp/serve.out" 2>"$tmp/serve.err" &
  serve_pid=$!
  pids+=($serve_pid)
  for _ in $(seq 6000); do
    curl -sf -o /dev/null "$url/readyz" && break
    kill -0 "$serve_pid" 2>/dev/null || { cat "$tmp/serve.err" >&2; exit 1; }
    sleep 0.05
  done
  ready_s=$(calc "$(now) - $t0")
  rss_ready=$(awk '/VmRSS/ {print $2 / 1024}' "/proc/$serve_pid/status")
  hwm_ready=$(awk '/VmHWM/ {print $2 / 1024}' "/proc/$serve_pid/status")
  grep -h "restored snapshot" "$tmp/serve.err" | sed 's/^/serve: /' || true
  if [[ ${FOLLOWER:-0} == 1 ]]; then
    fport=$(free_port)
    furl="http://127.0.0.1:$fport"
    tf=$(now)
    "$ranker" serve --config config/bench.yaml --brokers "$brokers" --role follower \
      --http "127.0.0.1:$fport" --set kafka.fetch.wait.max.ms=10 --set ingest.log_kafka_errors=false \
      >"$tmp/follower.out" 2>"$tmp/follower.err" &
    follower_pid=$!
    pids+=($follower_pid)
    for _ in $(seq 12000); do
      curl -sf -o /dev/null "$furl/readyz" && break
      kill -0 "$follower_pid" 2>/dev/null || { cat "$tmp/follower.err" >&2; break; }
      sleep 0.05
    done
    echo "follower: serving the leader's checkpoint $(calc "$(now) - $tf") s after its start"
    hist "$furl" >"$tmp/h0"
  fi
  events0=$(metric ranker_events_consumed_total)
  tl=$(now)
  python3 bench/scale_service_load.py "$url" "$rate" "$((seconds + 2 * wrk_seconds))" 100 \
    "$seconds,$((seconds + wrk_seconds))" >"$tmp/load.out" 2>"$tmp/load.err" &
  load_pid=$!
  for _ in $(seq 6000); do  # the probe served: the service consumes, the load starts
    grep -q '^STARTED' "$tmp/load.out" 2>/dev/null && break
    kill -0 "$load_pid" 2>/dev/null || break
    sleep 0.05
  done
  sleep "$seconds"
  # The snapshot figures of the learning-only phase: the learner runs at nice
  # 10, so once wrk takes the CPU a capture's wall time is mostly waiting.
  snap0="learner pause $(calc "$(metric ranker_snapshot_capture_seconds) * 1000") ms, write"
  snap0+=" $(calc "$(metric ranker_snapshot_write_seconds) * 1000") ms (of which retention"
  snap0+=" $(calc "$(metric ranker_snapshot_retain_seconds) * 1000") ms), $(metric ranker_snapshot_rows) rows"
  snap0+=" ($(metric ranker_snapshots_total) written so far)"
  w1=$(RANK_BODY="$tmp/body.json" wrk -t1 -c1 -d"${wrk_seconds}s" --timeout 5s \
         -s bench/wrk_rank.lua "$url" | grep '^RESULT' || true)
  w4=$(RANK_BODY="$tmp/body.json" wrk -t1 -c4 -d"${wrk_seconds}s" --timeout 5s \
         -s bench/wrk_rank.lua "$url" | grep '^RESULT' || true)
  wait "$load_pid" || { cat "$tmp/load.err" >&2; }
  load=$(grep '^RESULT' "$tmp/load.out" || true)
  learned=$(calc "($(metric ranker_events_consumed_total) - $events0) / ($(now) - $tl)")
  rows=$(metric ranker_embedding_rows)
  rss=$(awk '/VmRSS/ {print $2 / 1024}' "/proc/$serve_pid/status")
  hwm=$(awk '/VmHWM/ {print $2 / 1024}' "/proc/$serve_pid/status")
  consuming_s=$(calc "$ready_s + $(field first_ms "$load") / 1000")
  echo "restart: /readyz after ${ready_s}s (RSS then ${rss_ready} MB, peak ${hwm_ready} MB);" \
    "consuming (first batch served) after ${consuming_s}s"
  echo "event -> served at $(field rate "$load") events/s (after the probe): p50 $(field p50_ms "$load") ms," \
    "p99 $(field p99_ms "$load") ms, max $(field max_ms "$load") ms" \
    "($(field batches "$load") batches, $(field rejected "$load") rejected, $(field unserved "$load") unserved);" \
    "learned ${learned} events/s over the run until all were served"
  phase() { grep "^PHASE i=$1 " "$tmp/load.out" || true; }
  for i in 0 1 2; do
    p=$(phase $i)
    echo "  event -> served, $(sed -n "$((i + 1))p" <<<$'learning only:\nwith wrk at 1 connection:\nwith wrk at 4 connections:')" \
      "p50 $(field p50_ms "$p") ms, p99 $(field p99_ms "$p") ms, max $(field max_ms "$p") ms" \
      "($(field batches "$p") batches sent in seconds $(field from_s "$p")-$(field to_s "$p"))"
  done
  echo "/v1/rank 500 candidates while learning: 1 conn p50 $(field p50_ms "$w1") p99 $(field p99_ms "$w1") ms" \
    "($(field rps "$w1") req/s); 4 conns p50 $(field p50_ms "$w4") p99 $(field p99_ms "$w4") ms ($(field rps "$w4") req/s)"
  echo "publication (last): $(calc "$(metric ranker_model_publish_seconds) * 1000") ms," \
    "$(metric ranker_model_publish_rows) rows; versions $(metric ranker_model_version)"
  echo "snapshot (last of the learning-only phase): $snap0"
  echo "snapshot (last, after the wrk phases): learner pause $(calc "$(metric ranker_snapshot_capture_seconds) * 1000") ms," \
    "write $(calc "$(metric ranker_snapshot_write_seconds) * 1000") ms (of which retention" \
    "$(calc "$(metric ranker_snapshot_retain_seconds) * 1000") ms), $(metric ranker_snapshot_rows) rows" \
    "($(metric ranker_snapshots_total) written, interval ${interval_ms} ms)"
  echo "memory: RSS ${rss} MB (peak ${hwm} MB) for ${rows} rows: $(calc "$rss * 1048576 / $rows") B/row"
  if [[ ${FOLLOWER:-0} == 1 ]]; then
    hist "$furl" >"$tmp/h1"
    python3 - "$tmp/h0" "$tmp/h1" <<'PY'
import sys
def load(p):
    return [(float("inf") if le == "+Inf" else float(le), float(c)) for le, c in
            (line.split() for line in open(p))]
before, after = load(sys.argv[1]), load(sys.argv[2])
b = [(le, c1 - c0) for (le, c1), (_, c0) in zip(after, before)]
total = b[-1][1] if b else 0
def quantile(q):
    lo, prev = 0.0, 0.0
    for le, c in b:
        if c >= q * total:
            return lo * 1000 if le == float("inf") else \
                (lo + (le - lo) * (q * total - prev) / max(c - prev, 1e-9)) * 1000
        lo, prev = le, c
    return float("nan")
print(f"follower apply delay (from the leader's publication): p50 {quantile(0.5):.0f} ms,"
      f" p99 {quantile(0.99):.0f} ms ({total:.0f} versions)" if total else "follower: no version applied")
PY
    kill "$follower_pid"; wait "$follower_pid" 2>/dev/null || true
  fi
  kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
  if [[ ${FOLLOWER:-0} == 1 ]]; then
    scripts/kafka.sh stop "$tmp/kafka-$n" >/dev/null
    rm -rf "$tmp/kafka-$n"
  else
    kill "$broker_pid"; wait "$broker_pid" 2>/dev/null || true
  fi
  pids=()
  [[ ${KEEP_DATA:-0} == 1 ]] || rm -rf "$data"
done
