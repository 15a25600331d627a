#!/usr/bin/env bash
# First-picture benchmark: join -> first video through the SFU (room of 3
# publishers, 50 joins) next to two peers connected directly, in the same
# run. Prints a Markdown table (see docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p mediation-server -p mediation-tests --bins
exec target/release/bench_first_frame
