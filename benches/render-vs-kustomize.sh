#!/usr/bin/env bash
# Render time, side by side in one run: `driftgate render` against `kubectl kustomize` on
# (1) the production overlay in examples/ and (2) a generated overlay of N resources (default
# 1000) with patches and generators. Checks that both print the same objects, then times R runs
# of each (default 20) and prints the ratio. Needs kubectl v1.27+ (kustomize v5).
set -euo pipefail
n=${1:-1000}
runs=${2:-20}
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin driftgate --example gen_overlay
bin=$PWD/target/release/driftgate
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
target/release/examples/gen_overlay "$dir/gen" "$n"

time_runs() { # command... ; prints seconds per run
  local start end
  start=$(date +%s.%N)
  for _ in $(seq "$runs"); do "$@" >/dev/null; done
  end=$(date +%s.%N)
  echo "($end - $start) / $runs" | bc -l
}

for tree in examples/gitops/apps/overlays/production "$dir/gen/overlay"; do
  kubectl kustomize "$tree" >"$dir/kubectl.yaml"
  $bin render "$tree" >"$dir/driftgate.yaml"
  # identical objects: driftgate compares both renderings as desired and live (exit 0 = same)
  if $bin diff --desired "$dir/kubectl.yaml" --live "$dir/driftgate.yaml" -o json >/dev/null &&
     $bin diff --desired "$dir/driftgate.yaml" --live "$dir/kubectl.yaml" -o json >/dev/null; then
    same=identical
  else
    same=DIFFERENT
  fi
  count=$(grep -c '^kind:' "$dir/kubectl.yaml" || true)
  k=$(time_runs kubectl kustomize "$tree")
  d=$(time_runs "$bin" render "$tree")
  printf '%-48s %5d objects  kubectl kustomize %8.1f ms  driftgate render %7.1f ms  %6.1fx  objects %s\n' \
    "$(basename "$(dirname "$tree")")/$(basename "$tree")" "$count" "$(echo "$k * 1000" | bc -l)" "$(echo "$d * 1000" | bc -l)" "$(echo "$k / $d" | bc -l)" "$same"
done
