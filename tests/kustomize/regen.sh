#!/usr/bin/env bash
# Regenerates the golden files of the kustomize corpus with `kubectl kustomize` (kubectl v1.27+,
# which embeds kustomize v5). The test suite itself never needs kubectl: it compares driftgate's
# rendering with the committed expected.yaml files. Error cases (expected-error.txt) are driftgate's
# own refusals and are not regenerated.
set -euo pipefail
cd "$(dirname "$0")/cases"
version=$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\([0-9]*\).*/\1/p')
if [ "${version:-0}" -lt 5 ]; then
  echo "kubectl with kustomize v5 is needed (found: $(kubectl version --client 2>&1 | tr '\n' ' '))" >&2
  exit 1
fi
for case in */; do
  case=${case%/}
  [ -f "$case/expected-error.txt" ] && continue
  build=$(cat "$case/build-path")
  kubectl kustomize "$case/$build" > "$case/expected.yaml"
  echo "regenerated $case"
done
cd ..
for dir in deploy certs; do
  kubectl kustomize "../../$dir" > "repo/$dir.expected.yaml"
  echo "regenerated repo/$dir.expected.yaml"
done
