# Sourced by the benchmarks that run `driftgate serve` on fixture 005: a temporary folder (removed
# on exit, with every pid in `pids`), certificates for localhost, the review, the guestbook config
# with a file audit sink, and wrk's POST script. Sets `dir` and `bin`.
dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$dir"' EXIT
bin=target/release/driftgate
$bin certs --service driftgate --namespace bench --dns localhost --ip 127.0.0.1 --out "$dir" >/dev/null
cp tests/fixtures/admission-reviews/005-*.json "$dir/review.json"
sed "s#\.\./guestbook-git#$PWD/tests/fixtures/guestbook-git#" tests/fixtures/configs/guestbook-enforce.yaml >"$dir/config.yaml"
printf 'audit:\n  sinks:\n    - {type: file, path: %s/audit.jsonl}\n' "$dir" >>"$dir/config.yaml"
cat >"$dir/post.lua" <<'LUA'
local f = io.open(os.getenv("BODY"), "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
wrk.headers["Content-Type"] = "application/json"
LUA
