#!/usr/bin/env bash
# Makes sure the services the integration tests use answer on loopback: Redis, PostgreSQL, MariaDB and
# RabbitMQ; that OpenSSH's sshd and a test account exist for the SFTP tests (which start their own
# private sshd); and that Chromium (browser test), the openssl CLI (mTLS test), promtool (alert rules)
# and the sqlite3 CLI (bench reference) are installed.
# Starts them when installed but down; installs them from Debian's packages when missing (root only).
set -euo pipefail

log() { printf '[services] %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
wait_for() { # name, command...
  local name=$1; shift
  for _ in $(seq 1 60); do "$@" >/dev/null 2>&1 && { log "$name is up"; return 0; }; sleep 0.5; done
  log "$name did not come up"; return 1
}

# Redis
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  command -v redis-server >/dev/null || { log 'installing redis-server'; apt_install redis-server; }
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  log 'starting redis-server'
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
wait_for redis redis-cli -h 127.0.0.1 -p 6379 ping

# PostgreSQL (trust auth on loopback, database "test")
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then log 'installing postgresql'; apt_install postgresql; fi
  log 'starting postgresql'
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
fi
wait_for postgresql pg_isready -h 127.0.0.1 -p 5432 -q
if ! psql -h 127.0.0.1 -U postgres -d test -tAc 'select 1' >/dev/null 2>&1; then
  as_root su postgres -c "psql -tAc \"select 1 from pg_database where datname='test'\" | grep -q 1 || createdb test" || true
fi
psql -h 127.0.0.1 -U postgres -d test -tAc 'select 1' >/dev/null
# MariaDB (root without a password on loopback, database "test") for the database-extract tests
if ! mariadb -h 127.0.0.1 -u root -e 'select 1' >/dev/null 2>&1; then
  if [ ! -x /usr/sbin/mariadbd ]; then log 'installing mariadb-server'; apt_install mariadb-server; fi
  log 'starting mariadb'
  as_root mkdir -p /run/mysqld && as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi
wait_for mariadb mariadb -h 127.0.0.1 -u root -e 'select 1'
mariadb -h 127.0.0.1 -u root -e 'CREATE DATABASE IF NOT EXISTS test' >/dev/null

# The sqlite3 CLI: the SQLite scenario of `npm run bench` times its `.import` as the reference.
command -v sqlite3 >/dev/null || { log 'installing sqlite3'; apt_install sqlite3; }

# OpenSSH server for test/integration/sftp.test.ts: only the binary and a login; the tests run their own
# `sshd -D -e -f <private config>` on a loopback port and never touch a system sshd.
if [ ! -x /usr/sbin/sshd ]; then
  log 'installing openssh-server'
  apt_install openssh-server
fi
as_root mkdir -p /run/sshd # privilege-separation folder, normally made by the service unit
SFTP_USER=${TEST_SFTP_USER:-nightjar-sftp}
if ! id "$SFTP_USER" >/dev/null 2>&1; then
  log "creating the SFTP test user $SFTP_USER (no shell: the tests' sshd forces internal-sftp)"
  as_root useradd --system --user-group --create-home --home-dir "/var/lib/$SFTP_USER" \
    --shell /usr/sbin/nologin "$SFTP_USER"
  echo "$SFTP_USER:${TEST_SFTP_PASSWORD:-nightjar-sftp-test}" | as_root chpasswd
fi
# RabbitMQ for test/integration/events.test.ts (guest/guest on 127.0.0.1:5672)
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! port_open 5672; then
  command -v rabbitmq-server >/dev/null || { log 'installing rabbitmq-server'; apt_install rabbitmq-server; }
  log 'starting rabbitmq-server'
  as_root rabbitmq-server -detached >/dev/null 2>&1 || true
fi
for _ in $(seq 1 120); do port_open 5672 && break; sleep 0.5; done
port_open 5672 && log 'rabbitmq is up' || { log 'rabbitmq did not come up'; exit 1; }

# Chromium for test/integration/server-browser.test.ts (driven by playwright-core; no browser download)
if [ ! -x /usr/bin/chromium ]; then
  log 'installing chromium'
  apt_install chromium
fi
command -v openssl >/dev/null || { log 'installing openssl'; apt_install openssl; }
# promtool (Debian's prometheus package) checks deploy/prometheus/alerts.yml in test/unit/deploy.test.ts
command -v promtool >/dev/null || { log 'installing prometheus (for promtool)'; apt_install --no-install-recommends prometheus; }

log 'all services answer'
