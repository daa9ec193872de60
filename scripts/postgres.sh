#!/usr/bin/env bash
# postgres.sh: makes sure a local PostgreSQL (Debian's cluster, pg_ctlcluster)
# is running with a role `lambdad` that may create databases, and prints a URL
# for it. The tests (internal/testkit.Postgres) make a database of their own per
# test under that role. As root it starts the cluster when it is down and
# creates the role; otherwise both must already be so.
set -euo pipefail

ver=$(pg_lsclusters -h 2>/dev/null | awk 'NR==1{print $1}')
name=$(pg_lsclusters -h 2>/dev/null | awk 'NR==1{print $2}')
port=$(pg_lsclusters -h 2>/dev/null | awk 'NR==1{print $3}')
status=$(pg_lsclusters -h 2>/dev/null | awk 'NR==1{print $4}')
if [ -z "$ver" ]; then
	echo "postgres.sh: no PostgreSQL cluster (install Debian's postgresql package)" >&2
	exit 1
fi
if [ "$status" != online ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "postgres.sh: cluster $ver/$name is $status; start it with: sudo pg_ctlcluster $ver $name start" >&2
		exit 1
	fi
	pg_ctlcluster "$ver" "$name" start >&2
fi
if [ "$(id -u)" = 0 ]; then
	# Idempotent: the role is created once and its password kept known.
	su postgres -c "psql -q -p $port -v ON_ERROR_STOP=1" >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lambdad') THEN
    CREATE ROLE lambdad LOGIN CREATEDB PASSWORD 'lambdad';
  END IF;
END $$;
SQL
fi
echo "postgres://lambdad:lambdad@127.0.0.1:$port/postgres?sslmode=disable"
