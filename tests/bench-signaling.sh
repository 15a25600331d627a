#!/usr/bin/env bash
# Signaling benchmark: 2,000 WebSocket connections in rooms of 4 against the
# mediation server, and the same count against a bare tokio-tungstenite echo
# server in the same run. Prints a Markdown table (see docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p mediation-server -p mediation-tests --bins
ulimit -n 20000 2>/dev/null || true
exec target/release/bench_signaling
