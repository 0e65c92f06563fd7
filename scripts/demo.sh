#!/usr/bin/env bash
# The main job on the embedded defaults: builds, then runs `ranker demo`:
# an in-process Kafka-protocol broker, the simulated world producing
# impressions/clicks/watches into it, the learner, and the HTTP API with the
# dashboard at http://127.0.0.1:8080/ (live progress on the terminal;
# Ctrl-C stops). The offline replay pipeline is scripts/replay_demo.sh.
# Builds in the test command's tree (scripts/plain_tree.sh): after
# scripts/test.sh there is nothing left to build.
# Usage: scripts/demo.sh [ranker demo flags...]   e.g. --rate 5000 --http 127.0.0.1:9090
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/plain_tree.sh
plain_build ranker >/dev/null
exec "$(plain_ranker)" demo "$@"
