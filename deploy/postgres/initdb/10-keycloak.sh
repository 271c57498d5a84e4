#!/bin/sh
# First start of the compose PostgreSQL only: Keycloak's own database and role. The Tirek
# databases are created by the bootstrap job (deploy/bootstrap.py), not here.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v kc_password="$KEYCLOAK_DB_PASSWORD" <<'SQL'
CREATE ROLE keycloak LOGIN PASSWORD :'kc_password';
CREATE DATABASE keycloak OWNER keycloak ENCODING 'UTF8';
SQL
