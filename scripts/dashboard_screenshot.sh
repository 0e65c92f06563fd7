#!/usr/bin/env bash
# Loads the dashboard (GET /) of a running ranker in headless Chromium, checks
# that it rendered live data from /v1/model without script errors, and saves
# a screenshot.
#
# Usage: scripts/dashboard_screenshot.sh PORT OUT.png
#   e.g. ranker demo & scripts/dashboard_screenshot.sh 8080 docs/dashboard.png
#
# One page load does both: Chromium runs the page for DASHBOARD_BUDGET_MS
# (default 8000) of *virtual* time (timers fast-forward, so that is about 8
# polls in 2-3 s of real time), then dumps the DOM and takes the screenshot.
# The URL carries ?try=1, so the page also submits its "Try a ranking" form.
# Because the page's clock runs on virtual time, the "published ... ago" age
# in the picture is inflated by up to the budget.
#
# Checks (exit 1 when one fails): <body data-live="1">, at least 2 rendered
# reports (data-polls), no script error (data-errors="0"; the messages are
# printed), the ranking form answered (data-ranked="1"), a PNG was written.
# Exit 77 when Chromium is not installed. Environment: CHROMIUM (default
# /usr/bin/chromium), DASHBOARD_HOST (default 127.0.0.1), DASHBOARD_BUDGET_MS.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 PORT OUT.png" >&2
  exit 2
fi
port=$1
out=$2
chromium=${CHROMIUM:-/usr/bin/chromium}
host=${DASHBOARD_HOST:-127.0.0.1}
budget=${DASHBOARD_BUDGET_MS:-8000}

if [[ ! -x "$chromium" ]]; then
  echo "dashboard_screenshot: $chromium not found (Debian package: chromium)" >&2
  exit 77
fi

profile=$(mktemp -d)
dom=$(mktemp)
log=$(mktemp)
trap 'rm -rf "$profile" "$dom" "$log"' EXIT
rm -f "$out"
mkdir -p "$(dirname "$out")"

# No network beyond the page's own origin: no QUIC, sync, component updates,
# background requests or first-run pages.
if ! timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking --disable-component-update \
    --disable-sync --disable-default-apps --hide-scrollbars \
    --user-data-dir="$profile" --virtual-time-budget="$budget" \
    --window-size=1400,1000 --screenshot="$out" --dump-dom \
    "http://$host:$port/?try=1" >"$dom" 2>"$log"; then
  echo "dashboard_screenshot: chromium failed; its log:" >&2
  grep -v -e dbus -e 'unexpected operator' "$log" >&2 || true
  exit 1
fi

body=$(grep -o '<body[^>]*>' "$dom" | head -n 1 || true)
attr() { sed -n "s/.* data-$1=\"\([^\"]*\)\".*/\1/p" <<<"$body"; }
live=$(attr live)
polls=$(attr polls)
errors=$(attr errors)
ranked=$(attr ranked)
models=$(attr models)
echo "dashboard_screenshot: live=${live:-?} polls=${polls:-?} errors=${errors:-?} ranked=${ranked:-0}"

status=0
if [[ "$live" != 1 ]]; then
  echo "FAIL: the page never rendered a model report (<body data-live=\"1\">)" >&2
  status=1
fi
if [[ ! "$polls" =~ ^[0-9]+$ ]] || ((polls < 2)); then
  echo "FAIL: fewer than 2 model reports rendered (data-polls=${polls:-none})" >&2
  status=1
fi
if [[ "$errors" != 0 ]]; then
  echo "FAIL: script errors on the page:" >&2
  sed -n '/<pre id="errors"/,/<\/pre>/p' "$dom" >&2
  status=1
fi
if [[ "$ranked" != 1 ]]; then
  echo "FAIL: the ranking form got no ranking; the page shows:" >&2
  sed -n 's/.*<div id="rank-result"[^>]*>\(.*\)/\1/p' "$dom" | head -c 500 >&2
  echo >&2
  status=1
fi
# DASHBOARD_EXPECT_MODELS=N: the models table (GET /v1/models) shows N rows.
if [[ -n "${DASHBOARD_EXPECT_MODELS:-}" && "$models" != "$DASHBOARD_EXPECT_MODELS" ]]; then
  echo "FAIL: the models table shows ${models:-no} models, expected $DASHBOARD_EXPECT_MODELS" >&2
  status=1
fi
if [[ ! -s "$out" ]]; then
  echo "FAIL: no screenshot written to $out" >&2
  status=1
fi
exit $status
