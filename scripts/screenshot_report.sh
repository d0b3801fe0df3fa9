#!/usr/bin/env bash
# Render the HTML report with headless Chromium (Debian package chromium, installed by
# scripts/install_tools.sh) and fail if the screenshot is missing or implausibly small.
# tests/test_workflow.py runs it on the tiny workflow's report.
# Usage: scripts/screenshot_report.sh [REPORT_HTML] [OUT_PNG] [HEIGHT_PX]
#   defaults: results/report/index.html, results/report/screenshot.png, 4000
# The PNG is WIDTH x HEIGHT_PX pixels (WIDTH=1400; override with the environment).
set -euo pipefail

html="${1:-results/report/index.html}"
out="${2:-results/report/screenshot.png}"
height="${3:-4000}"
width="${WIDTH:-1400}"
min_bytes=20000

browser="$(command -v chromium || command -v chromium-browser || true)"
if [[ -z "$browser" ]]; then
    echo "error: chromium not found; install it with scripts/install_tools.sh (make setup)" >&2
    exit 1
fi
if [[ ! -f "$html" ]]; then
    echo "error: report $html not found; build it first" >&2
    exit 1
fi

# A fresh profile each time; running as root needs --no-sandbox, and with the network
# closed every background fetch (updates, sync, first-run pages) is switched off.
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
mkdir -p "$(dirname "$out")"
rm -f "$out"

status=0
timeout 180 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" --screenshot="$(realpath -m "$out")" \
    --window-size="$width,$height" "file://$(realpath "$html")" \
    >"$profile/chromium.log" 2>&1 || status=$?

if [[ ! -f "$out" ]]; then
    echo "error: chromium (exit $status) wrote no screenshot to $out; its last lines:" >&2
    tail -n 20 "$profile/chromium.log" >&2
    exit 1
fi
size="$(stat -c %s "$out")"
if ((size < min_bytes)); then
    echo "error: screenshot $out is only $size bytes (< $min_bytes): blank page?" >&2
    exit 1
fi
echo "screenshot: $out ($size bytes, ${width}x$height)"
