#!/usr/bin/env bash
# Runs each libFuzzer target (clang 14, ASan + UBSan) for a fixed time. Seeds
# are kept in fuzz/corpus/<target>/ (committed); what libFuzzer finds grows
# in $RANKER_FUZZ_OUT/corpus/<target>/ (kept between runs on a machine; copy
# what is worth keeping into the seeds). Exit non-zero on any crash, leak,
# timeout or sanitizer report; the reproducer is left in the output dir.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
out=${RANKER_FUZZ_OUT:-build-fuzz}
mkdir -p "$out"
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I.)

clang++ "${flags[@]}" fuzz/fuzz_event_decoder.cc ingest/event_decoder.cc \
  ingest/event_encoder.cc ingest/reject.cc base/status.cc -lboost_json \
  -o "$out/fuzz_event_decoder"
clang++ "${flags[@]}" fuzz/fuzz_rank_request.cc api/rank_request.cc api/json_writer.cc \
  base/status.cc -lboost_json -o "$out/fuzz_rank_request"

for target in event_decoder rank_request; do
  corpus=$out/corpus/$target
  mkdir -p "$corpus"
  echo "fuzz: $target for ${seconds}s (seeds $(ls fuzz/corpus/$target | wc -l), found $(ls "$corpus" | wc -l))" >&2
  "./$out/fuzz_$target" -max_len=4096 -max_total_time="$seconds" -timeout=5 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/" \
      "$corpus" "fuzz/corpus/$target" 2>&1 | tail -n 6
done
