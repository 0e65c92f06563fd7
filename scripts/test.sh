#!/usr/bin/env bash
# The test command: installs what is missing, builds with warnings as errors,
# and runs every test (unit, integration, learning, Kafka on the mock cluster
# and, label kafka_real, on a real Apache Kafka broker from scripts/kafka.sh)
# on the plain tree (scripts/plain_tree.sh, shared with scripts/demo.sh), then
# the in-process suites under ASan+UBSan and the threaded ones under TSan
# (scripts/sanitize.sh: build-asan/, build-tsan/).
# Usage: scripts/test.sh [ctest args...]   e.g. scripts/test.sh -L learner
#   With ctest args only the plain tree runs (a selection is a developer's
#   loop, not CI). RANKER_SANITIZE_TREES="asan tsan" (default), or "" for none.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/plain_tree.sh
plain_build
(cd "$plain_dir" && ctest --output-on-failure --timeout 600 -j"${RANKER_TEST_JOBS:-2}" "$@")
if [[ $# -eq 0 && -n ${RANKER_SANITIZE_TREES-asan tsan} ]]; then
  # shellcheck disable=SC2086  # a word list on purpose
  scripts/sanitize.sh ${RANKER_SANITIZE_TREES-asan tsan}
fi
