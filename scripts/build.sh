#!/usr/bin/env bash
# Configures and builds the tree (Release-like -O3, -march=native by default).
# Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
#   RANKER_JOBS=N         parallel jobs (default 2)
#   RANKER_TARGETS="a b"  build only these ninja targets (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# ccache (when present) keys on paths relative to the checkout, so a clone in
# another folder reuses what an earlier build compiled.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
build_dir=${1:-build}
shift || true
cmake -S . -B "$build_dir" -G Ninja "$@" >/dev/null
# shellcheck disable=SC2086  # RANKER_TARGETS is a word list on purpose
ninja -C "$build_dir" -j"${RANKER_JOBS:-2}" ${RANKER_TARGETS:-}
