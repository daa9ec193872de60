#!/usr/bin/env bash
# load.sh: throughput of warm invokes of the Go echo function (aws-lambda-go,
# provided.al2023) with N concurrent callers (wrk, one keep-alive connection
# each), and where the CPU goes: lambdad, the function processes, wrk.
#
#   scripts/load.sh [callers=32] [seconds=10] [isolation=auto]
#
# FN_ENV='{"K":"V"}' sets the function's environment variables.
# Needs wrk (apt-get install wrk), python3 and curl.
set -euo pipefail
callers=${1:-32}
secs=${2:-10}
iso=${3:-auto}
. "$(dirname "$0")/lib.sh"
build_goecho
zip_fn bootstrap ""
start_lambdad "$iso" --concurrency-limit 1000
create_fn echo provided.al2023 bootstrap "${FN_ENV:-{\}}"
sleep 0.5
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"op":"echo","value":{"hello":"world"}}'
wrk.headers["Authorization"] = "$auth"
LUA
inv="$url/2015-03-31/functions/echo/invocations"
wrk -t2 -c"$callers" -d2s -s "$work/post.lua" "$inv" >/dev/null # start the environments

# CPU ticks (USER_HZ) of a process and of all its descendants that ran.
ticks() { awk '{print $14+$15}' /proc/"$1"/stat 2>/dev/null || echo 0; }
fnticks() {
	local t=0
	for p in $(pgrep -P "$pid"; for c in $(pgrep -P "$pid"); do pgrep -P "$c"; done); do
		[ "$(readlink /proc/$p/exe 2>/dev/null)" = "$work/lambdad" ] && continue
		t=$((t + $(ticks "$p")))
	done
	echo "$t"
}
l0=$(ticks "$pid"); f0=$(fnticks)
out=$(wrk -t2 -c"$callers" -d"${secs}s" -s "$work/post.lua" --latency "$inv")
l1=$(ticks "$pid"); f1=$(fnticks)
echo "$out"
reqs=$(echo "$out" | awk '/requests in/ {print $1}')
echo
awk -v r="$reqs" -v l=$((l1 - l0)) -v f=$((f1 - f0)) -v s="$secs" 'BEGIN {
	printf "invokes/s: %.0f\n", r / s
	printf "CPU per invoke: lambdad %.0f µs, function processes %.0f µs (the rest of 2 cores: wrk and the kernel)\n", l * 10000 / r, f * 10000 / r
}'
