#!/usr/bin/env bash
# Pointwise against listwise click loss (issue 17), where requests carry
# several impressions: the simulator (slates of 10) and the Open Bandit
# sample with the rows of one display grouped into one request
# (`ranker convert obd --group-displays`). One replay each on the default
# model; the listwise run sets tasks[click].loss = listwise (which turns on
# join.group_requests). Per run: progressive click AUC (pointwise: of the
# click probabilities; listwise: of the within-list softmax shares) and
# logloss or list cross-entropy, and the number of lists with a click.
# Usage: bench/listwise_report.sh [RANKER] [EVENTS] [SEED] [OBD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
ranker=${1:-build-test/cli/ranker}
events=${2:-200000}
seed=${3:-3}
obd=${4:-../shared/data/open_bandit_dataset}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$ranker" simulate --events "$events" --seed "$seed" --out "$tmp/sim.ndjson"
"$ranker" convert obd --group-displays --in "$obd" --out "$tmp/obd.ndjson"
printf '| data | click loss | click AUC | logloss | list cross-entropy | examples |\n'
printf '| --- | --- | --- | --- | --- | --- |\n'
for data in sim obd; do
  if [[ $data == sim ]]; then tasks=click:binary:1:1:log1p,watch:regression:1:1:log1p; sets=()
  else tasks=click:binary:1:1:log1p; sets=(--config config/obd.yaml); fi
  for loss in pointwise listwise; do
    t=$tasks
    [[ $loss == listwise ]] && t=${tasks/click:binary:1:1:log1p/click:binary:1:1:log1p:listwise}
    "$ranker" replay --json --progress-seconds 0 "${sets[@]}" --set "tasks=$t" "$tmp/$data.ndjson" \
      >"$tmp/out.json"
    python3 - "$tmp/out.json" "$data" "$loss" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["progressive"]["click"]
f = lambda k: "%.4f" % c[k] if isinstance(c.get(k), (int, float)) else "-"
print("| %s | %s | %s | %s | %s | %d |" % (sys.argv[2], sys.argv[3], f("auc"), f("logloss"),
      f("list_cross_entropy"), c["count"]))
PY
  done
done
