#!/usr/bin/env bash
# The sanitizer trees, built with clang (libstdc++) and -Wthread-safety as an
# error, extra to the plain tree of scripts/test.sh (which runs this after its
# own tests):
#   asan  build-asan/: AddressSanitizer + UndefinedBehaviorSanitizer (+ leak
#         checks) over every in-process suite;
#   tsan  build-tsan/: ThreadSanitizer over the suites whose code runs threads
#         (queues, Kafka source on the mock cluster, store, HTTP server,
#         service, replication, integration).
# Suites against a real broker (ctest label kafka_real) and the script tests
# that drive the plain binary (compose, crash) run on the plain tree only.
# Both trees compile at -O1 -g with assertions on and without benchmarks.
# Usage: scripts/sanitize.sh [asan|tsan]...   (default: asan tsan)
#   RANKER_JOBS=N        build jobs (default 2); RANKER_TEST_JOBS=N test jobs (2)
set -euo pipefail
cd "$(dirname "$0")/.."

# The test directories (= ctest labels, = ranker_<dir>_tests) each tree
# builds and runs. ASan+UBSan: the in-process suites, the Kafka source and
# producer on librdkafka's in-process mock cluster (ingest) included. TSan:
# the suites whose code runs threads in process (queues, HTTP server,
# snapshot stores, the trie's and the model's concurrent readers and writer);
# not ingest, whose librdkafka threads TSan cannot see into. The suites that
# drive subprocesses or a browser (integration, cli) run on the plain tree.
asan_dirs=(base api store settings serving learner join service ingest replication)
tsan_dirs=(base api store learner join service serving)
# Never in a sanitizer tree: real brokers, and scripts driving the binary or
# a browser.
plain_only='^(kafka_real|compose|crash|browser)$'
# The learning-quality tests (service/learning_test.cc) train for 25-50 s each
# at -O3: several minutes under a sanitizer at -O1, and their code paths are
# the other suites' too. Plain tree only.
plain_only_tests='^Learning\.'

common=(-DCMAKE_CXX_COMPILER=clang++ -DRANKER_WERROR=ON -DRANKER_BUILD_BENCH=OFF)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp}
jobs=${RANKER_TEST_JOBS:-2}

stamp() { echo "sanitize: $* ($(date -u +%H:%M:%S))" >&2; }

# Builds tree $1 (sanitizer $2) with the test binaries of dirs $3..., then
# runs those labels.
run_tree() {
  local tree=$1 sanitizer=$2 targets=() labels
  shift 2
  for d in "$@"; do targets+=("ranker_${d}_tests"); done
  labels="^($(IFS='|'; echo "$*"))\$"
  stamp "$tree: building ${targets[*]} in build-$tree"
  RANKER_TARGETS="${targets[*]}" scripts/build.sh "build-$tree" "${common[@]}" \
    -DRANKER_SANITIZE="$sanitizer"
  stamp "$tree: testing"
  (cd "build-$tree" && ctest --output-on-failure --timeout 900 -j"$jobs" -L "$labels" -LE "$plain_only" \
    -E "$plain_only_tests")
}

run_asan() { run_tree asan address "${asan_dirs[@]}"; }
run_tsan() { run_tree tsan thread "${tsan_dirs[@]}"; }

trees=("$@")
[[ ${#trees[@]} -eq 0 ]] && trees=(asan tsan)
for t in "${trees[@]}"; do
  case "$t" in
    asan) run_asan ;;
    tsan) run_tsan ;;
    *) echo "usage: $0 [asan|tsan]..." >&2; exit 2 ;;
  esac
done
stamp "done: ${trees[*]}"
