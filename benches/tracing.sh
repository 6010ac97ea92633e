#!/usr/bin/env bash
# What tracing adds to admission latency, side by side in one run: `driftgate serve` with no
# tracer (OTEL_SDK_DISABLED=true), tracing every review without exporting (the default without an
# endpoint: trace ids for audit events), and exporting the spans over OTLP/HTTP to a local receiver
# (examples/otlp_sink.rs, which decodes them), and the same with one review in ten sampled
# (OTEL_TRACES_SAMPLER=parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG=0.1). wrk drives
# fixture 005 (a denied kubectl edit: a span, an audit event with its trace id) at 2 and at 32
# connections. The servers (and their exporter threads) are pinned to core 0, wrk and the receiver
# to core 1, so the load generator does not steal the server's CPU; the servers are measured in
# alternating rounds so drift in the machine hits all alike.
# Usage: benches/tracing.sh [SECONDS] [ROUNDS]   (needs wrk: apt-get install wrk)
set -euo pipefail
secs=${1:-10}
rounds=${2:-3}
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
cargo build --release --quiet --bin driftgate --example otlp_sink
source benches/serve-setup.sh
taskset -c 1 target/release/examples/otlp_sink 127.0.0.1:14318 &
pids+=($!)
OTEL_SDK_DISABLED=true taskset -c 0 $bin serve --config "$dir/config.yaml" --listen 127.0.0.1:18445 \
  --tls-cert "$dir/tls.crt" --tls-key "$dir/tls.key" 2>"$dir/off.log" &
pids+=($!)
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:14318 OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf \
  taskset -c 0 $bin serve --config "$dir/config.yaml" --listen 127.0.0.1:18446 \
  --tls-cert "$dir/tls.crt" --tls-key "$dir/tls.key" 2>"$dir/on.log" &
pids+=($!)
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:14318 OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf \
  OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.1 \
  taskset -c 0 $bin serve --config "$dir/config.yaml" --listen 127.0.0.1:18448 \
  --tls-cert "$dir/tls.crt" --tls-key "$dir/tls.key" 2>"$dir/sampled.log" &
pids+=($!)
OTEL_TRACES_EXPORTER=none taskset -c 0 $bin serve --config "$dir/config.yaml" --listen 127.0.0.1:18447 \
  --tls-cert "$dir/tls.crt" --tls-key "$dir/tls.key" 2>"$dir/local.log" &
pids+=($!)
for log in off on local sampled; do
  for _ in $(seq 100); do grep -q "desired state loaded" "$dir/$log.log" && break; sleep 0.1; done
done
run() { # name port connections
  BODY="$dir/review.json" taskset -c 1 wrk -t1 -c"$3" -d"${secs}s" --latency -s "$dir/post.lua" \
    "https://127.0.0.1:$2/validate" >"$dir/wrk.txt"
  printf '%-24s p50 %8s  p90 %8s  p99 %8s  %10s reviews/s\n' "$1" \
    "$(awk '/^ +50%/ {print $2}' "$dir/wrk.txt")" "$(awk '/^ +90%/ {print $2}' "$dir/wrk.txt")" \
    "$(awk '/^ +99%/ {print $2}' "$dir/wrk.txt")" "$(awk '/^Requests\/sec/ {print $2}' "$dir/wrk.txt")"
}
for conns in 32; do
  echo "wrk -t1 -c$conns, ${secs}s per run, TLS keep-alive; servers on core 0, wrk and the receiver on core 1"
  for r in $(seq "$rounds"); do
    run "no tracer (round $r)" 18445 "$conns"
    run "traced, kept (round $r)" 18447 "$conns"
    run "traced+OTLP (round $r)" 18446 "$conns"
    run "OTLP, 10% (round $r)" 18448 "$conns"
  done
done
sleep 6 # the batch processor exports every 5 s
echo "spans the receiver decoded: $(curl -s http://127.0.0.1:14318/count)"
