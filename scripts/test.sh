#!/usr/bin/env bash
# Runs every test: vet, staticcheck, the Go tests with -race, and the
# AWS CLI + boto3 smoke test against a real lambdad, then against a cluster
# of three (scripts/cluster-smoke.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# The PostgreSQL store's tests need a server (scripts/postgres.sh starts
# Debian's cluster as root); here they fail rather than skip without one.
if [ -z "${LAMBDAD_TEST_POSTGRES:-}" ]; then
	LAMBDAD_TEST_POSTGRES=$(scripts/postgres.sh)
	export LAMBDAD_TEST_POSTGRES
fi
export LAMBDAD_TEST_REQUIRE_POSTGRES=1
go vet ./...
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
go test -race -count=1 -timeout 40m ./...
# The control plane's suites once more on the PostgreSQL store.
LAMBDAD_TEST_STORE=postgres go test -race -count=1 -timeout 20m ./internal/functions ./internal/api ./internal/invoke ./internal/durable
bash scripts/smoke.sh
bash scripts/cluster-smoke.sh
