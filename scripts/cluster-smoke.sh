#!/usr/bin/env bash
# cluster-smoke.sh: three lambdad nodes on loopback sharing one PostgreSQL
# database (--store) and one S3 bucket on a real moto_server (--blobs), and
# the smoke test (scripts/smoke.sh: AWS CLI and boto3) against all three at
# once, each call on the next node, so every write is read back on another.
#
# PostgreSQL: LAMBDAD_TEST_POSTGRES (a URL whose role may create databases),
# else what scripts/postgres.sh prints.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TMP=$(mktemp -d)
PIDS=()
ADMIN=${LAMBDAD_TEST_POSTGRES:-$("$ROOT/scripts/postgres.sh")}
DB="lambdad_cluster_$$"

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	psql -q "$ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
wait_http() { # URL PID LOG
	for _ in $(seq 1 150); do
		if curl -fsS "$1" >/dev/null 2>&1; then return 0; fi
		if ! kill -0 "$2" 2>/dev/null; then
			echo "cluster-smoke: $1 exited early:" >&2
			cat "$3" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "cluster-smoke: $1 did not answer" >&2
	exit 1
}

echo "cluster-smoke: building lambdad"
(cd "$ROOT" && go build -o "$TMP/lambdad" ./cmd/lambdad)

psql -q "$ADMIN" -c "CREATE DATABASE $DB" >/dev/null
STORE=$(python3 -c 'import sys, urllib.parse as u; p=u.urlparse(sys.argv[1]); print(u.urlunparse(p._replace(path="/"+sys.argv[2])))' "$ADMIN" "$DB")

S3PORT=$(free_port)
moto_server -H 127.0.0.1 -p "$S3PORT" >"$TMP/moto.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$S3PORT/moto-api/" "${PIDS[-1]}" "$TMP/moto.log"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
aws --endpoint-url "http://127.0.0.1:$S3PORT" s3 mb s3://lambdad-code >/dev/null

EPS=()
for i in 1 2 3; do
	port=$(free_port)
	"$TMP/lambdad" --listen "127.0.0.1:$port" --data-dir "$TMP/node$i" --transition 300ms --log-level info --runtime-fallback \
		--store "$STORE" --blobs s3://lambdad-code/code --s3-endpoint "http://127.0.0.1:$S3PORT" \
		>"$TMP/node$i.log" 2>&1 &
	PIDS+=($!)
	wait_http "http://127.0.0.1:$port/_lambdad/health" "${PIDS[-1]}" "$TMP/node$i.log"
	EPS+=("http://127.0.0.1:$port")
done
echo "cluster-smoke: nodes ${EPS[*]}"

if SMOKE_ENDPOINTS="${EPS[*]}" bash "$ROOT/scripts/smoke.sh"; then
	exit 0
fi
for i in 1 2 3; do
	echo "--- node$i log (tail)" >&2
	tail -n 30 "$TMP/node$i.log" >&2
done
exit 1
