#!/usr/bin/env bash
# Make sure the production backends the tests talk to are up on this machine:
# PostgreSQL (with the pgvector extension available, trust auth on 127.0.0.1 for the
# test user) and Redis. Idempotent and quiet: prints only what it had to do.
# Safe to run as root on Debian bookworm; `make test` runs it before pytest.
set -uo pipefail

log() { printf '[services] %s\n' "$*"; }

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
pg_login() { psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
  log "installing postgresql and redis from Debian packages"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq postgresql redis-server >/dev/null 2>&1
fi

if ! pg_up && command -v pg_ctlcluster >/dev/null 2>&1; then
  log "starting PostgreSQL"
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
  if [ -z "$version" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -1)
    pg_createcluster "$version" main >/dev/null
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi

# a fresh Debian cluster asks for passwords on TCP; the test server trusts 127.0.0.1
if pg_up && ! pg_login; then
  hba=$(su postgres -c "psql -Atqc 'show hba_file'" 2>/dev/null)
  if [ -n "$hba" ] && ! grep -q 'acie: trust local test connections' "$hba"; then
    log "configuring trust authentication for 127.0.0.1 in $hba"
    { echo "# acie: trust local test connections"
      echo "host all all 127.0.0.1/32 trust"
      echo "host all all ::1/128 trust"
      cat "$hba"; } > "$hba.acie" && cat "$hba.acie" > "$hba" && rm -f "$hba.acie"
    su postgres -c "psql -Atqc 'select pg_reload_conf()'" >/dev/null
    sleep 1
  fi
fi
pg_login || log "PostgreSQL is NOT reachable as postgres@127.0.0.1:5432"

# Redis keeps an append-only file (AOF) so a restart loses no acknowledged job; the queue
# warns (development) or refuses to start (ACIE_ENV=production) without one. Production
# should also use --appendfsync always; the shared test server fsyncs once a second.
if ! redis_up && command -v redis-server >/dev/null 2>&1; then
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
    --appendonly yes --appendfsync everysec \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null || true
  for _ in $(seq 1 30); do redis_up && break; sleep 1; done
fi
# a server already running without AOF (started by an older version of this script) is
# switched over online: CONFIG SET rewrites the AOF in the background, no restart
if redis_up && [ "$(redis-cli -h 127.0.0.1 -p 6379 config get appendonly 2>/dev/null | tail -1)" = "no" ]; then
  log "turning on Redis' append-only file (CONFIG SET appendonly yes)"
  redis-cli -h 127.0.0.1 -p 6379 config set appendonly yes >/dev/null || log "could NOT turn on AOF"
fi
redis_up || log "Redis is NOT up on 127.0.0.1:6379"

if pg_login; then
  bash "$(dirname "$0")/pgvector.sh" || log "pgvector could NOT be installed"
fi
exit 0
