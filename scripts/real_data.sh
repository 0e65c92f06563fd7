#!/usr/bin/env bash
# Real-data replays for the README: Census-Income (KDD) with each
# architecture (one online pass, progressive AUC per task), and the Open
# Bandit random-policy logs (learned position curve vs click rate by position).
# Usage: scripts/real_data.sh [BUILD_DIR] [SHARED_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shared=${2:-../shared}
ranker="$build/cli/ranker"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$ranker" convert census --in "$shared/data/census_income_kdd/census-income.test.gz" --out "$tmp/census.ndjson"
"$ranker" convert obd --in "$shared/data/open_bandit_dataset" --out "$tmp/obd.ndjson"
echo "| architecture | income AUC | marital AUC | income AUC (last 10k) | marital AUC (last 10k) |"
echo "| --- | --- | --- | --- | --- |"
for arch in mmoe shared_bottom omoe independent ple; do
  "$ranker" replay --config config/census.yaml --set model.architecture=$arch --json \
      --progress-seconds 0 "$tmp/census.ndjson" | python3 -c '
import json, sys
r = json.load(sys.stdin); p = r["progressive"]
print("| %s | %.4f | %.4f | %.4f | %.4f |" % (r["architecture"], p["income"]["auc"], p["marital"]["auc"],
      p["income"]["window_auc"], p["marital"]["window_auc"]))'
done
echo
"$ranker" replay --config config/obd.yaml --json --progress-seconds 0 "$tmp/obd.ndjson" > "$tmp/obd.json"
python3 - "$tmp/obd.ndjson" "$tmp/obd.json" <<'PY'
import json, math, sys
shown = {}; clicks = {}
for line in open(sys.argv[1]):
    e = json.loads(line); p = e["position"]
    shown[p] = shown.get(p, 0) + 1; clicks[p] = clicks.get(p, 0) + e["labels"]["click"]
r = json.load(open(sys.argv[2]))
off = r["position_bias"]["click_logit_offset"]
print("| position | impressions | clicks | CTR | log(CTR/CTR@1) | learned click-logit offset |")
print("| --- | --- | --- | --- | --- | --- |")
for p in sorted(shown):
    ctr = clicks[p] / shown[p]; ctr1 = clicks[1] / shown[1]
    print("| %d | %d | %d | %.4f | %+.3f | %+.3f |" % (p, shown[p], clicks[p], ctr, math.log(ctr / ctr1), off[p - 1]))
print("\nclick AUC (progressive, all %d examples): %.4f" % (r["progressive"]["click"]["count"], r["progressive"]["click"]["auc"]))
PY
