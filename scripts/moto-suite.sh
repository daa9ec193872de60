#!/usr/bin/env bash
# Runs moto's own Lambda tests (tests/test_awslambda) against lambdad in
# moto's server mode: scripts/motosuite/proxy.py sends Lambda requests to
# lambdad and every other service to a moto_server, and moto's per-test
# /moto-api/reset to both (lambdad's POST /_lambdad/reset).
#
#   scripts/moto-suite.sh <moto checkout at the installed moto's tag> [pytest args...]
#
# (pytest args such as -k policy or -rfE narrow or detail the run.)
#
# Needs moto_server, pytest and freezegun for the python3 that has moto
# (Debian: apt-get install python3-pytest python3-freezegun, then
# PYTHONPATH=/usr/lib/python3/dist-packages when moto lives in another python3).
set -euo pipefail
MOTO_SRC=${1:?usage: $0 <moto checkout> [pytest args]}
shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
pids=()
# lambdad unmounts its environments' /tmp disks as it stops: wait for it.
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait; rm -rf "$TMP"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MOTO_PORT=$(port) LAMBDAD_PORT=$(port) PROXY_PORT=$(port)
go build -o "$TMP/lambdad" "$ROOT/cmd/lambdad"
moto_server -p "$MOTO_PORT" >"$TMP/moto.log" 2>&1 & pids+=($!)
# Moto's tests sign with FOOBARKEY and expect account 123456789012; code in
# S3 and functions' own AWS calls go to the moto_server. They name runtimes
# (python3.11, nodejs18.x, ...) without caring which version runs them.
"$TMP/lambdad" --listen "127.0.0.1:$LAMBDAD_PORT" --data-dir "$TMP/data" --transition 0 --runtime-fallback \
	--account 123456789012 --aws-endpoint-url "http://127.0.0.1:$MOTO_PORT" \
	--s3-endpoint "http://127.0.0.1:$MOTO_PORT" --log-level warn >"$TMP/lambdad.log" 2>&1 & pids+=($!)
python3 "$ROOT/scripts/motosuite/proxy.py" "$PROXY_PORT" "http://127.0.0.1:$LAMBDAD_PORT" "http://127.0.0.1:$MOTO_PORT" & pids+=($!)
for _ in $(seq 100); do
	curl -fs -XPOST "http://127.0.0.1:$PROXY_PORT/moto-api/reset" >/dev/null 2>&1 && break
	sleep 0.2
done
cd "$MOTO_SRC"
TEST_SERVER_MODE=true TEST_SERVER_MODE_ENDPOINT="http://127.0.0.1:$PROXY_PORT" \
	AWS_ACCESS_KEY_ID=FOOBARKEY AWS_SECRET_ACCESS_KEY=x \
	python3 -m pytest tests/test_awslambda -q -p no:cacheprovider -o addopts= "$@"
