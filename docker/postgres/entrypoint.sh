#!/bin/sh
# First start: make the cluster, the owner and application roles and the database
# (backend/audit/README.md, "PostgreSQL roles"). Passwords come from files.
set -eu
read_secret() { head -n 1 "$1"; }
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD_FILE:?the superuser password file}"
    : "${POSTGRES_OWNER_PASSWORD_FILE:?the owner role password file}"
    : "${POSTGRES_APP_PASSWORD_FILE:?the application role password file}"
    db=${POSTGRES_DB:-satukartu}
    owner=${POSTGRES_OWNER:-satukartu_owner}
    app=${POSTGRES_APP_ROLE:-satukartu_app}
    initdb --username=postgres --pwfile="$POSTGRES_PASSWORD_FILE" --auth-local=peer \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    psql -v ON_ERROR_STOP=1 -q --username=postgres --dbname=postgres \
        -v owner="$owner" -v app="$app" -v db="$db" \
        -v owner_password="$(read_secret "$POSTGRES_OWNER_PASSWORD_FILE")" \
        -v app_password="$(read_secret "$POSTGRES_APP_PASSWORD_FILE")" <<'SQL'
CREATE ROLE :"owner" LOGIN PASSWORD :'owner_password';
CREATE ROLE :"app" LOGIN PASSWORD :'app_password';
CREATE DATABASE :"db" OWNER :"owner";
\c :"db"
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"app";
SQL
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo "postgres: cluster made, roles $owner and $app, database $db"
fi
exec "$@"
