#!/usr/bin/env bash
# The test command: installs what is missing, builds with warnings as errors,
# and runs every test (unit, integration, learning, Kafka on the mock cluster
# and, label kafka_real, on a real Apache Kafka broker from scripts/kafka.sh).
# Usage: scripts/test.sh [ctest args...]   e.g. scripts/test.sh -L learner
#        scripts/test.sh -LE kafka_real    (everything but the real broker)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${RANKER_BUILD_DIR:-build-test}
scripts/build.sh "$build_dir" -DRANKER_WERROR=ON
cd "$build_dir"
ctest --output-on-failure --timeout 600 -j"${RANKER_TEST_JOBS:-2}" "$@"
