#!/usr/bin/env bash
# Git tree reading, side by side in one run: driftgate resolving a revision and reading every
# file of a 10,000-file tree from the repository (no checkout), against
# `git archive REV | tar -x` doing the same into a folder. R runs each (default 10).
set -euo pipefail
files=${1:-10000}
runs=${2:-10}
cd "$(dirname "$0")/.."
cargo build --release --quiet --example read_tree
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
repo="$dir/repo"
git init -q -b main "$repo"
python3 - "$repo" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "apps", f"team-{i % 100}", f"app-{i // 100}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"cm-{i}.yaml"), "w") as f:
        f.write(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  key: value-{i}\n")
PY
git -C "$repo" add -A
git -C "$repo" -c user.name=bench -c user.email=bench@example.com commit -qm tree
git -C "$repo" gc -q --force
time_runs() {
  local start end
  start=$(date +%s.%N)
  for _ in $(seq "$runs"); do "$@" >/dev/null; done
  end=$(date +%s.%N)
  echo "($end - $start) / $runs" | bc -l
}
extract() { rm -rf "$dir/out"; mkdir "$dir/out"; git -C "$repo" archive main | tar -x -C "$dir/out"; }
target/release/examples/read_tree "$repo" main
d=$(time_runs target/release/examples/read_tree "$repo" main)
g=$(time_runs extract)
printf 'driftgate resolve+read %7.1f ms   git archive | tar -x %7.1f ms   driftgate is %.1fx the speed\n' \
  "$(echo "$d * 1000" | bc -l)" "$(echo "$g * 1000" | bc -l)" "$(echo "$g / $d" | bc -l)"
