#!/usr/bin/env bash
# Soak benchmark: 2,000 signaling connections and 8 media rooms held for ten
# minutes (SOAK_SECS) with joins and leaves going on; errors and the
# server's memory slope. Prints a Markdown table (see docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p mediation-server -p mediation-tests --bins
ulimit -n 20000 2>/dev/null || true
exec target/release/bench_soak
