#!/usr/bin/env bash
# The village-link benchmark: the browser test of tests/e2e/village-link.test.mjs
# with 60 s windows instead of 20 (mediator and adviser in Chromium on the
# host, the 东平 station's Chromium behind the emulated line), writing the
# measured rows to target/village-link.json and printing them. Needs root
# (network namespaces), Chromium, PostgreSQL (DATABASE_URL) and the debug
# e2e_server and link_delay binaries; tests/run.sh installs all of these.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?set DATABASE_URL to a PostgreSQL database the test may fill}"
cargo build --quiet -p mediation-tests --bin e2e_server --bin link_delay
cd tests/e2e
LINK_WINDOW_S="${LINK_WINDOW_S:-60}" LINK_RESULTS="$PWD/../../target/village-link.json" \
    CHROMIUM="${CHROMIUM:-$(command -v chromium)}" \
    node --test --test-concurrency=1 --test-reporter=spec village-link.test.mjs 2>&1 \
    | grep -E '^(✔|✖)|concealed|acted|back at|offered|decoded|reloaded' || true
cat ../../target/village-link.json
