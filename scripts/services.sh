#!/usr/bin/env bash
# Make sure the production backends the tests talk to are up on this machine:
# PostgreSQL (with the pgvector extension available) and Redis.
# Idempotent: does nothing that is already done. Safe to run as root on Debian.
set -uo pipefail

log() { printf '[services] %s\n' "$*"; }

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
  log "installing postgresql and redis from Debian packages"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server >/dev/null
fi

if ! pg_up; then
  log "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
pg_up && log "PostgreSQL is up" || log "PostgreSQL is NOT up"

if ! redis_up; then
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 1 30); do redis_up && break; sleep 1; done
fi
redis_up && log "Redis is up" || log "Redis is NOT up"

if [ -f scripts/pgvector.sh ]; then
  bash scripts/pgvector.sh
fi
exit 0
