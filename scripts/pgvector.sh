#!/usr/bin/env bash
# Make the pgvector extension available to the local PostgreSQL server.
#
# pgvector is not packaged for Debian bookworm, so this builds it from Debian trixie's
# source package (a deb-src line for trixie only: no binary package comes from trixie)
# against postgresql-server-dev-<major>. Idempotent: when the server already lists
# `vector` among its available extensions it does nothing. Run as root.
set -euo pipefail

log() { printf '[pgvector] %s\n' "$*"; }

PG_HOST=${PGHOST:-127.0.0.1}
PG_PORT=${PGPORT:-5432}
PG_USER=${PGUSER:-postgres}

available() {
  psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -Atqc \
    "select 1 from pg_available_extensions where name = 'vector'" 2>/dev/null | grep -q 1
}

if available; then
  exit 0
fi

# which PostgreSQL major version is installed (the server we build against)
PG_CONFIG=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
  PG_CONFIG="$d/pg_config"
  PG_MAJOR=$(basename "$(dirname "$d")")
  break
done
if [ -z "$PG_CONFIG" ]; then
  log "no PostgreSQL server installation under /usr/lib/postgresql: cannot build pgvector"
  exit 1
fi

log "building pgvector for PostgreSQL $PG_MAJOR from Debian trixie's source package"
SRC_LIST=/etc/apt/sources.list.d/acie-trixie-src.sources
if [ ! -f "$SRC_LIST" ]; then
  cat > "$SRC_LIST" <<SRC
# added by ACIE scripts/pgvector.sh: source packages only (pgvector is not in bookworm)
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq build-essential dpkg-dev "postgresql-server-dev-$PG_MAJOR" >/dev/null 2>&1

WORK=$(mktemp -d); chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
apt-get source -qq --download-only pgvector >/dev/null
dpkg-source -x --no-check ./pgvector_*.dsc src >/dev/null
make -s -C src PG_CONFIG="$PG_CONFIG" >/dev/null
make -s -C src PG_CONFIG="$PG_CONFIG" install >/dev/null

if available; then
  log "pgvector $(psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -Atqc \
    "select default_version from pg_available_extensions where name = 'vector'") installed"
else
  log "pgvector was built but the server does not list it"
  exit 1
fi
