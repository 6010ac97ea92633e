#!/usr/bin/env bash
# The detector's figures, side by side in one run against one in-process fake API server holding
# N Deployments (default 10,000): RSS of `driftgate serve` watching them against a kube-rs
# reflector that keeps them whole, and watch event to status (edit -> drift.detected audit event).
# The engine's CPU figures are `cargo bench --bench detect`.
set -euo pipefail
n=${1:-10000}
edits=${2:-200}
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin driftgate --example reflector_baseline --example detector_bench
target/release/examples/detector_bench "$n" "$edits"
