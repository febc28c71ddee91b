#!/bin/sh
# One-shot schema setup for the Temporal server, run by the temporal-admin-tools service of
# ../../docker-compose.yml, as temporalio/samples-server's compose files do it: create the
# temporal and temporal_visibility databases, then bring both schemas to the newest version
# shipped in the admin-tools image. Every step is idempotent (create ignores an existing
# database, setup-schema -v 0.0 keeps a newer version, update-schema applies only what is
# missing), so it runs again harmlessly on every `docker compose up` and after an image upgrade.
#
# Environment (the same variables the temporalio/server image reads, so both services share one
# block in the compose file): DB (the SQL plugin: postgres12), POSTGRES_SEEDS (host), DB_PORT,
# POSTGRES_USER, POSTGRES_PWD, DBNAME, VISIBILITY_DBNAME.
set -eu

: "${DB:=postgres12}"
: "${POSTGRES_SEEDS:?}"
: "${DB_PORT:=5432}"
: "${POSTGRES_USER:?}"
: "${POSTGRES_PWD:?}"
: "${DBNAME:=temporal}"
: "${VISIBILITY_DBNAME:=temporal_visibility}"
: "${SCHEMA_DIR:=/etc/temporal/schema/postgresql/v12}"
# The password goes through the environment (temporal-sql-tool reads SQL_PASSWORD), not argv.
export SQL_PASSWORD="$POSTGRES_PWD"

echo "Waiting for PostgreSQL at $POSTGRES_SEEDS:$DB_PORT..."
tries=0
# reachable: PostgreSQL accepts connections. nc where it exists (the admin-tools image), else
# pg_isready (PostgreSQL's client packages), else bash's /dev/tcp.
reachable() {
  if command -v nc >/dev/null 2>&1; then
    nc -z -w 5 "$POSTGRES_SEEDS" "$DB_PORT"
  elif command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$POSTGRES_SEEDS" -p "$DB_PORT" -t 5
  else
    timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$POSTGRES_SEEDS" "$DB_PORT"
  fi
}
until reachable; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then
    echo "PostgreSQL at $POSTGRES_SEEDS:$DB_PORT is unreachable" >&2
    exit 1
  fi
  sleep 1
done

sql() {
  temporal-sql-tool --plugin "$DB" --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" "$@"
}

setup() { # database, schema (temporal | visibility)
  echo "Setting up the $2 schema in database $1..."
  sql --db "$1" create
  sql --db "$1" setup-schema -v 0.0
  sql --db "$1" update-schema -d "$SCHEMA_DIR/$2/versioned"
}

setup "$DBNAME" temporal
setup "$VISIBILITY_DBNAME" visibility
echo "PostgreSQL schema setup complete."
