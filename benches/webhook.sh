#!/usr/bin/env bash
# Webhook latency and throughput over TLS keep-alive, side by side in one run: `driftgate serve`
# against the floor (examples/floor_server.rs: same axum + rustls stack, parse and answer
# "allowed"), with wrk as the load generator, for fixture 005 (~4 KB) and a ~100 KB review.
# Usage: benches/webhook.sh [SECONDS] [CONNECTIONS]   (needs wrk: apt-get install wrk)
set -euo pipefail
secs=${1:-10}
conns=${2:-32}
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
cargo build --release --quiet --bin driftgate --example floor_server
# the guestbook config of the fixtures is used as is (stdout audit sink, sent to /dev/null)
source benches/serve-setup.sh
cp "$dir/review.json" "$dir/small.json"
python3 - "$dir/small.json" "$dir/large.json" <<'PY'
import json, sys
review = json.load(open(sys.argv[1]))
# pad the object with a ~95 KB annotation, as large objects (CRDs, big ConfigMaps) are
for key in ("object", "oldObject"):
    review["request"][key]["metadata"]["annotations"]["example.com/blob"] = "x" * 48000
json.dump(review, open(sys.argv[2], "w"))
PY
$bin serve --config tests/fixtures/configs/guestbook-enforce.yaml --listen 127.0.0.1:18443 \
  --tls-cert "$dir/tls.crt" --tls-key "$dir/tls.key" >/dev/null 2>"$dir/serve.log" &
pids+=($!)
target/release/examples/floor_server 127.0.0.1:18444 "$dir/tls.crt" "$dir/tls.key" &
pids+=($!)
for _ in $(seq 100); do grep -q "desired state loaded" "$dir/serve.log" && break; sleep 0.1; done
run() { # name port body
  BODY="$3" wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$dir/post.lua" "https://127.0.0.1:$2/validate" >"$dir/wrk.txt"
  local p50 p99 rps
  p50=$(awk '/^ +50%/ {print $2}' "$dir/wrk.txt")
  p99=$(awk '/^ +99%/ {print $2}' "$dir/wrk.txt")
  rps=$(awk '/^Requests\/sec/ {print $2}' "$dir/wrk.txt")
  printf '%-10s %-6s p50 %8s  p99 %8s  %10s reviews/s\n' "$1" "$4" "$p50" "$p99" "$rps"
}
echo "wrk -t2 -c$conns -d${secs}s over TLS keep-alive, 2 cores shared by server and load generator"
for body in small large; do
  size=$(du -h "$dir/$body.json" | cut -f1)
  run floor 18444 "$dir/$body.json" "$size"
  run driftgate 18443 "$dir/$body.json" "$size"
done
