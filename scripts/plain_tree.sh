# Sourced by scripts/test.sh, demo.sh and replay_demo.sh: the one plain build
# tree they share, so the README's test command then its demo command build
# once (the sanitizer trees of scripts/sanitize.sh are extra).
#   plain_dir    the tree (RANKER_BUILD_DIR, default build-test)
#   plain_flags  its cmake flags; every caller passes exactly these, so a second
#                caller finds the tree configured and built
#   plain_build [targets...]   configures and builds (all targets by default)
#   plain_ranker               prints the path of the `ranker` binary
plain_dir=${RANKER_BUILD_DIR:-build-test}
plain_flags=(-DRANKER_WERROR=ON)

plain_build() {
  RANKER_TARGETS="$*" scripts/build.sh "$plain_dir" "${plain_flags[@]}"
}

plain_ranker() {
  echo "$plain_dir/cli/ranker"
}
