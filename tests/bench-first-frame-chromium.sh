#!/usr/bin/env bash
# First-picture benchmark in Chromium: a participant joining a room of three
# publishers, 50 times, next to two peer connections in one page. Needs
# what tests/run.sh installs (Chromium, Node packages) and PostgreSQL or
# SQLite (DATABASE_URL, as for the browser tests). See docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet -p mediation-tests --bin e2e_server
cd tests/e2e
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
CHROMIUM="${CHROMIUM:-$(command -v chromium)}" exec node bench-first-frame-chromium.mjs
