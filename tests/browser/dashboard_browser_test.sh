#!/usr/bin/env bash
# ctest dashboard_browser: starts ranker_dashboard_fixture (the dashboard
# routes with a fake model report) on an ephemeral loopback port and runs
# scripts/dashboard_screenshot.sh against it, which asserts in headless
# Chromium that the page renders live data without script errors; then
# checks that the screenshot is a 1400x1000 PNG with real content.
#
# Usage: dashboard_browser_test.sh FIXTURE_BINARY SCREENSHOT_SCRIPT OUT_DIR
# Exit 77 (ctest SKIP_RETURN_CODE) only when Chromium is not installed.
set -euo pipefail

fixture=$1
script=$2
out_dir=$3
chromium=${CHROMIUM:-/usr/bin/chromium}

if [[ ! -x "$chromium" ]]; then
  echo "SKIP: $chromium is not installed (Debian package: chromium); the dashboard's" \
       "browser test needs it"
  exit 77
fi

mkdir -p "$out_dir"
port_file="$out_dir/port"
png="$out_dir/dashboard.png"
rm -f "$port_file" "$png"

"$fixture" --port 0 --port-file "$port_file" --max-seconds 150 >"$out_dir/fixture.log" 2>&1 &
fixture_pid=$!
trap 'kill "$fixture_pid" 2>/dev/null || true; wait "$fixture_pid" 2>/dev/null || true' EXIT

# The fixture writes its port once it listens: wait up to 10 s for it.
for _ in $(seq 100); do
  [[ -s "$port_file" ]] && break
  kill -0 "$fixture_pid" 2>/dev/null || { cat "$out_dir/fixture.log"; exit 1; }
  sleep 0.1
done
if [[ ! -s "$port_file" ]]; then
  echo "FAIL: the fixture did not start listening within 10 s" >&2
  cat "$out_dir/fixture.log" >&2
  exit 1
fi
port=$(cat "$port_file")

rc=0
# The fixture serves the champion and two challengers at GET /v1/models.
DASHBOARD_EXPECT_MODELS=3 "$script" "$port" "$png" || rc=$?
if [[ $rc -ne 0 ]]; then
  echo "FAIL: $script exited $rc" >&2
  exit 1
fi

# PNG signature, then the IHDR chunk: width and height, 4 bytes big-endian each.
signature=$(od -An -tx1 -N8 "$png" | tr -d ' \n')
width=$((16#$(od -An -tx1 -j16 -N4 "$png" | tr -d ' \n')))
height=$((16#$(od -An -tx1 -j20 -N4 "$png" | tr -d ' \n')))
size=$(stat -c %s "$png")
echo "screenshot: $png ${width}x${height}, $size bytes"
if [[ "$signature" != 89504e470d0a1a0a ]]; then
  echo "FAIL: $png is not a PNG" >&2
  exit 1
fi
if [[ $width -ne 1400 || $height -ne 1000 ]]; then
  echo "FAIL: expected a 1400x1000 screenshot" >&2
  exit 1
fi
# A page with charts, tables and text compresses to well over 40 KB; a blank
# or unstyled error page to a few KB.
if [[ $size -lt 40000 ]]; then
  echo "FAIL: the screenshot is nearly empty ($size bytes)" >&2
  exit 1
fi
echo "dashboard browser test: OK"
