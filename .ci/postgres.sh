#!/usr/bin/env bash
# Starts a throwaway PostgreSQL for the integration tests: Debian's server
# (installed if missing), run as the postgres user, in a new temporary data
# directory, listening only on a Unix socket in that directory. Prints the
# DATABASE_URL to use; `.ci/postgres.sh stop <dir>` stops it.
set -euo pipefail
if [ "${1:-}" = stop ]; then
  su postgres -s /bin/sh -c "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/pg_ctl -D '$2/data' -m immediate stop" >/dev/null
  exit 0
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >/dev/null
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
dir=$(mktemp -d /tmp/clerkauth-pg.XXXXXX)
chown postgres "$dir"
su postgres -s /bin/sh -c "'$bin/initdb' -D '$dir/data' -U postgres --auth=trust -E UTF8 --no-sync" >/dev/null
# fsync off (PG_FSYNC=on for benchmarks): a CI database dies with the
# machine. max_connections: the replica and concurrency tests.
su postgres -s /bin/sh -c "'$bin/pg_ctl' -D '$dir/data' -l '$dir/log' -w -o \"-k '$dir' -c listen_addresses='' -c fsync=${PG_FSYNC:-off} -c max_connections=200\" start" >/dev/null
echo "postgres://postgres@/postgres?host=$dir&sslmode=disable"
