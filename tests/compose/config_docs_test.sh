#!/usr/bin/env bash
# ctest compose.config_docs: docs/CONFIG.md is exactly what the binary prints
# with `ranker config --docs`, so the key reference cannot drift.
# Usage: config_docs_test.sh RANKER_BIN SOURCE_DIR
set -euo pipefail
ranker=$1
src=$2
generated=$(env -i PATH="$PATH" "$ranker" config --docs)
if ! diff -u "$src/docs/CONFIG.md" <(printf '%s\n' "$generated"); then
  echo "FAIL: docs/CONFIG.md differs from \`ranker config --docs\` (diff above)." >&2
  echo "Regenerate it: $ranker config --docs > $src/docs/CONFIG.md" >&2
  exit 1
fi
echo PASS
