#!/usr/bin/env bash
# End-to-end diff of N Deployments (default 10,000) with server defaults and managedFields,
# every tenth drifted: wall time and peak memory of `driftgate diff`, side by side in one run
# with `driftgate render` of the same live file (the cost of reading it alone) and with
# `kubectl` parsing it (`kubectl apply --dry-run=client -o name`, client-side, where kubectl exists).
set -euo pipefail
n=${1:-10000}
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin driftgate --example gen_fleet
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
target/release/examples/gen_fleet "$dir" "$n"
bin=target/release/driftgate
measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$dir/t" "$@" >/dev/null 2>"$dir/err" || true
  read -r secs kb < <(tail -n 1 "$dir/t")
  printf '%-44s %8.2f s %8.0f MB %10.0f objects/s\n' "$label" "$secs" "$((kb / 1024))" "$(echo "$n / $secs" | bc -l)"
}
echo "objects: $n ($(du -h "$dir/live.json" | cut -f1) JSON, $(du -h "$dir/live.yaml" | cut -f1) YAML)"
measure "driftgate diff --live live.json" $bin diff --desired "$dir/desired" --live "$dir/live.json" -o json
measure "driftgate render live.json (read only)" $bin render "$dir/live.json" -o json
measure "driftgate diff --live live.yaml" $bin diff --desired "$dir/desired" --live "$dir/live.yaml" -o json
measure "driftgate render live.yaml (read only)" $bin render "$dir/live.yaml" -o json
