#!/usr/bin/env bash
# Where a traced review's CPU goes: `driftgate serve` exporting every span over OTLP/HTTP, pinned
# to core 0 and saturated by wrk on core 1, sampled with `perf record`; then the same server with
# no tracer. Prints the share of samples in tracing, OpenTelemetry and protobuf code (and in the
# allocator) for each. Steadier than comparing latencies on a shared machine: the share does not
# depend on how busy the rest of the machine is.
# Usage: benches/tracing-cpu.sh [SECONDS]   (needs wrk and perf: apt-get install wrk linux-perf)
set -euo pipefail
secs=${1:-6}
cd "$(dirname "$0")/.."
for tool in wrk perf; do command -v $tool >/dev/null || { echo "$tool is needed" >&2; exit 1; }; done
cargo build --release --quiet --bin driftgate --example otlp_sink
source benches/serve-setup.sh
taskset -c 1 target/release/examples/otlp_sink 127.0.0.1:14320 &
pids+=($!)
for variant in traced+OTLP none; do
  if [ "$variant" = none ]; then env=(OTEL_SDK_DISABLED=true); else
    env=(OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:14320 OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf); fi
  env "${env[@]}" taskset -c 0 $bin serve --config "$dir/config.yaml" --listen 127.0.0.1:18460 \
    --tls-cert "$dir/tls.crt" --tls-key "$dir/tls.key" 2>"$dir/serve.log" &
  pid=$!
  for _ in $(seq 100); do grep -q "desired state loaded" "$dir/serve.log" && break; sleep 0.1; done
  BODY="$dir/review.json" taskset -c 1 wrk -t1 -c32 -d"$((secs + 3))s" -s "$dir/post.lua" \
    "https://127.0.0.1:18460/validate" >"$dir/wrk.txt" &
  load=$!
  sleep 1
  perf record -q -F 1999 -p "$pid" -o "$dir/perf.data" -- sleep "$secs" 2>/dev/null
  wait "$load"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  perf report -i "$dir/perf.data" --no-children --sort symbol --stdio 2>/dev/null | grep -E '^ +[0-9]' |
    awk -v name="$variant" -v rps="$(awk '/^Requests\/sec/ {print $2}' "$dir/wrk.txt")" '
      { p = $1; sub("%", "", p)
        if ($0 ~ /opentelemetry|tracing_|sharded_slab|prost|OtelData|SpanData|TraceId|SpanId/) t += p
        if ($0 ~ /mi_|malloc|free/) a += p }
      END { printf "%-12s tracing/OpenTelemetry/protobuf %5.2f%% of samples, allocator %5.2f%%  (%s reviews/s under perf)\n", name, t, a, rps }'
done
