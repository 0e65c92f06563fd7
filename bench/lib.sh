# Shared by the bench scripts that start `ranker` processes (source it).
#   bench_require NAME RANKER TOOL...  exits naming what is missing
#   pids+=(PID)                        stopped by bench_cleanup, newest first
#   first_line FILE                    its first line, waiting up to 15 s
#   bench_cleanup                      SIGTERM each (SIGKILL after 15 s), then rm -rf "$tmp"
# Newest first matters: producer, then service, then broker (a service stops
# cleanly only while its broker is up).
pids=()

bench_require() {
  local name=$1 ranker=$2 tool
  shift 2
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$name: $tool is missing" >&2; exit 1; }
  done
  [[ -x $ranker ]] || { echo "$name: $ranker is missing (build it first)" >&2; exit 1; }
}

first_line() {
  for _ in $(seq 150); do
    if [[ -s $1 ]]; then head -n1 "$1"; return 0; fi
    sleep 0.1
  done
  echo "$(basename "$0"): nothing in $1" >&2
  return 1
}

bench_cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[$i]}" 2>/dev/null || continue
    for _ in $(seq 150); do kill -0 "${pids[$i]}" 2>/dev/null || break; sleep 0.1; done
    kill -9 "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
