#!/usr/bin/env bash
# Installs every build and test dependency of the ranker from Debian 12 packages.
# Idempotent: does nothing when all packages are already present.
# Usage: scripts/install-deps.sh [--runtime]   (--runtime: only what the binary needs)
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config ccache
  librdkafka-dev libeigen3-dev librocksdb-dev
  libboost1.81-dev libboost-json1.81-dev
  prometheus-cpp-dev libyaml-cpp-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  libjs-chart.js zlib1g-dev
)
tool_pkgs=(kcat wrk prometheus chromium clang python3 curl)
runtime_pkgs=(librdkafka++1 librdkafka1 librocksdb7.8 libboost-json1.81.0
  libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libyaml-cpp0.7 ca-certificates)

if [[ "${1:-}" == "--runtime" ]]; then
  pkgs=("${runtime_pkgs[@]}")
else
  pkgs=("${build_pkgs[@]}" "${tool_pkgs[@]}")
fi

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
