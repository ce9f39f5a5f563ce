#!/usr/bin/env bash
# Regenerates docs/images/report-html.png, the README's screenshot of an HTML report: the checked seed
# notes (they contain the notes' own slips, so failures are marked) rendered by headless Chromium.
# Needs symderiv installed and Debian's chromium (apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
symderiv report examples/seed-notes.md --format html -o "$build/seed-notes.html" || true  # exit 1: it has failures
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,1300 \
    --screenshot="$build/shot.png" "file://$build/seed-notes.html" 2>/dev/null
cp "$build/shot.png" docs/images/report-html.png
echo "wrote docs/images/report-html.png"
