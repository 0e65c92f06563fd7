#!/usr/bin/env bash
# Installs every build and test dependency of the ranker from Debian 12 packages.
# Idempotent: does nothing when all packages are already present.
# Usage: scripts/install-deps.sh [--runtime | --build]
#   (none)     build + test/tool packages (what scripts/build.sh and test.sh need)
#   --build    only what compiling the binary needs (the Dockerfile's build stage)
#   --runtime  only what the binary needs to run (the Dockerfile's runtime stage)
#   RANKER_DEPS=all|build|runtime chooses the same for callers that pass no
#   flag (the Dockerfile runs scripts/build.sh with RANKER_DEPS=build).
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config ccache
  librdkafka-dev libeigen3-dev librocksdb-dev
  libboost1.81-dev libboost-json1.81-dev
  prometheus-cpp-dev libyaml-cpp-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  libjs-chart.js zlib1g-dev libxxhash-dev
)
# clang-format: the repo's .clang-format on changed files.
# docker-compose: tests/compose validates docker-compose.yml (no Docker engine needed).
# clang + libclang-rt-14-dev: the sanitizer trees (scripts/sanitize.sh) and the fuzzers.
# openjdk-17-jre-headless + maven: scripts/kafka.sh runs the real Apache Kafka
# broker (resolved from Maven Central) for the kafka_real tests and benches.
tool_pkgs=(kcat wrk prometheus chromium clang libclang-rt-14-dev clang-format python3 python3-yaml
  curl docker-compose openjdk-17-jre-headless maven)
runtime_pkgs=(librdkafka++1 librdkafka1 librocksdb7.8 libboost-json1.81.0
  libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libyaml-cpp0.7 libxxhash0 ca-certificates)

profile=${RANKER_DEPS:-all}
case "${1:-}" in
  --runtime) profile=runtime ;;
  --build) profile=build ;;
  "") ;;
  *) echo "usage: $0 [--runtime | --build]" >&2; exit 2 ;;
esac
case "$profile" in
  runtime) pkgs=("${runtime_pkgs[@]}") ;;
  build) pkgs=("${build_pkgs[@]}") ;;
  all) pkgs=("${build_pkgs[@]}" "${tool_pkgs[@]}") ;;
  *) echo "install-deps: RANKER_DEPS must be all, build or runtime, got '$profile'" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
