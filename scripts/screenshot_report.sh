#!/usr/bin/env bash
# Render the HTML report with headless Chromium and fail if the screenshot is missing
# or implausibly small.
# Usage: scripts/screenshot_report.sh [REPORT_HTML] [OUT_PNG] [HEIGHT_PX]
#   defaults: results/report/index.html, results/report/screenshot.png, 4000
set -euo pipefail

html="${1:-results/report/index.html}"
out="${2:-results/report/screenshot.png}"
height="${3:-4000}"
min_bytes=20000

browser="$(command -v chromium || command -v chromium-browser || true)"
if [[ -z "$browser" ]]; then
    echo "error: chromium not found; install it (apt-get install -y chromium)" >&2
    exit 1
fi
if [[ ! -f "$html" ]]; then
    echo "error: report $html not found; build it first" >&2
    exit 1
fi

profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
mkdir -p "$(dirname "$out")"
rm -f "$out"

"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" --screenshot="$(realpath -m "$out")" \
    --window-size="1400,$height" "file://$(realpath "$html")" >/dev/null 2>&1 || true

if [[ ! -f "$out" ]]; then
    echo "error: chromium wrote no screenshot to $out" >&2
    exit 1
fi
size="$(stat -c %s "$out")"
if ((size < min_bytes)); then
    echo "error: screenshot $out is only $size bytes (< $min_bytes): blank page?" >&2
    exit 1
fi
echo "screenshot: $out ($size bytes)"
