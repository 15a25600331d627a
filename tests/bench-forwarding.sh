#!/usr/bin/env bash
# Forwarding benchmark: rooms of 4 through the SFU next to a raw UDP relay
# with AES-128-GCM, in the same run. Prints a Markdown table (see
# docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p mediation-server -p mediation-tests --bins
exec target/release/bench_forwarding
