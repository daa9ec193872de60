#!/usr/bin/env bash
# rie-compare.sh: warm invoke latency of lambdad against the AWS Runtime
# Interface Emulator (RIE), side by side in one run: both serve the same
# aws-lambda-go echo function (the tests' goecho), and one client
# (scripts/riecompare, one keep-alive connection each) alternates batches
# between them. Prints p50/p99 of each, their ratios to the RIE's, and each
# server's own CPU per invoke (its /proc/<pid>/stat ticks; the function
# processes are not counted).
#
#   scripts/rie-compare.sh [invokes=20000] [isolation=auto]
#
# BASE=<git revision> adds lambdad as built from that revision as a third
# target, for before/after numbers in the same run. IDEAL=1 adds
# scripts/idealserver, the least a server must do per invoke in one
# goroutine: a floor for lambdad's latency and CPU on the same machine;
# IDEAL=2 adds it once more with lambdad's one hand-off per invoke.
#
# The RIE is built from its Go module into a temporary GOBIN, never into
# lambdad's go.mod; RIE_VERSION picks another version.
set -euo pipefail
n=${1:-20000}
iso=${2:-auto}
rie_version=${RIE_VERSION:-v0.0.0-20261030222936-bef5c4ba774d}
. "$(dirname "$0")/lib.sh"

GOBIN="$work/bin" GOFLAGS=-mod=mod go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$rie_version"
go build -o "$work/riecompare" ./scripts/riecompare
build_goecho
zip_fn bootstrap ""
targets=()
if [ -n "${BASE:-}" ]; then
	mkdir "$work/base"
	git archive "$BASE" | tar -x -C "$work/base"
	(cd "$work/base" && go build -o "$work/lambdad-base" ./cmd/lambdad)
	port=$((20000 + RANDOM % 20000))
	LAMBDAD_LOG_LEVEL=warn "$work/lambdad-base" --listen 127.0.0.1:$port --data-dir "$work/data-base" --isolation "$iso" --concurrency-limit 1000 &
	base_pid=$!
	url=http://127.0.0.1:$port
	for _ in $(seq 100); do curl -sf "$url/2015-03-31/functions/" >/dev/null && break; sleep 0.05; done
	create_fn echo provided.al2023 bootstrap
	targets+=(-t "base|$url/2015-03-31/functions/echo/invocations|$auth|$base_pid")
fi
start_lambdad "$iso" --concurrency-limit 1000
create_fn echo provided.al2023 bootstrap
targets=(-t "lambdad|$url/2015-03-31/functions/echo/invocations|$auth|$pid" "${targets[@]}")
sleep 0.5 # Pending to Active

# The RIE runs the bootstrap given as its argument itself, outside a
# container; its Runtime API gets a port of its own.
rie_port=$((20000 + RANDOM % 20000))
"$work/bin/aws-lambda-rie" --log-level error \
	--runtime-interface-emulator-address "127.0.0.1:$rie_port" \
	--runtime-api-address "127.0.0.1:$((rie_port + 1))" "$work/bootstrap" >/dev/null 2>&1 &
rie_pid=$!
for _ in $(seq 100); do
	curl -sf -o /dev/null -d '{}' "http://127.0.0.1:$rie_port/2015-03-31/functions/function/invocations" && break
	sleep 0.05
done

if [ -n "${IDEAL:-}" ]; then
	# scripts/idealserver: the same bootstrap behind one goroutine doing
	# the least a server must, a floor for lambdad's numbers.
	go build -o "$work/idealserver" ./scripts/idealserver
	ideal_port=$((20000 + RANDOM % 20000))
	"$work/idealserver" "127.0.0.1:$ideal_port" "$work/bootstrap" &
	ideal_pid=$!
	for _ in $(seq 100); do
		curl -sf -o /dev/null -d '{}' "http://127.0.0.1:$ideal_port/" && break
		sleep 0.05
	done
	targets+=(-t "ideal|http://127.0.0.1:$ideal_port/2015-03-31/functions/echo/invocations||$ideal_pid")
	if [ "$IDEAL" = 2 ]; then # and with lambdad's one hand-off per invoke
		port=$((ideal_port + 1))
		"$work/idealserver" "127.0.0.1:$port" "$work/bootstrap" handoff &
		handoff_pid=$!
		for _ in $(seq 100); do
			curl -sf -o /dev/null -d '{}' "http://127.0.0.1:$port/" && break
			sleep 0.05
		done
		targets+=(-t "handoff|http://127.0.0.1:$port/2015-03-31/functions/echo/invocations||$handoff_pid")
	fi
fi

"$work/riecompare" -n "$n" "${targets[@]}" \
	-t "rie|http://127.0.0.1:$rie_port/2015-03-31/functions/function/invocations||$rie_pid"
