# Sourced by scripts/dev.sh before the tests: make sure a PostgreSQL server answers.
#
# ARVO_PG_DSN set by you: used as it is (nothing is started; the tests fail, naming it,
# when it does not answer). Unset: the default local server
# (postgresql://postgres@127.0.0.1:5432/test); when it does not answer, in turn:
#   1. start the Debian cluster (pg_ctlcluster) of the newest installed version;
#   2. with no server binaries at all and running as root, apt-get install postgresql
#      and try 1 again;
#   3. initdb a throwaway cluster in a temporary directory on a free port, export
#      ARVO_PG_DSN for it, and set ARVO_PG_STOP to the command that removes it.
# The database "test" is created when missing. Needs .venv (psycopg) to probe.

ARVO_PG_DEFAULT_DSN="postgresql://postgres@127.0.0.1:5432/test"
ARVO_PG_STOP=""

pg_answers() {  # pg_answers DSN [create]: does a server answer (creating the db "test")?
  .venv/bin/python - "$1" "${2:-}" <<'PY' >/dev/null 2>&1
import sys
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
dsn, create = sys.argv[1], sys.argv[2] == "create"
try:
    psycopg.connect(dsn, connect_timeout=3).close()
except psycopg.OperationalError:
    if not create:
        raise
    params = conninfo_to_dict(dsn)
    with psycopg.connect(make_conninfo(dsn, dbname="postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{params.get("dbname", "test")}"')
    psycopg.connect(dsn, connect_timeout=3).close()
PY
}

pg_newest_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

pg_start_debian_cluster() {
  command -v pg_ctlcluster >/dev/null 2>&1 || return 1
  local version
  version="$(basename "$(dirname "$(pg_newest_bin)")")"
  [ -n "$version" ] && [ "$version" != "." ] || return 1
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
  pg_answers "$ARVO_PG_DEFAULT_DSN" create
}

pg_throwaway_cluster() {
  local bin dir port runas
  bin="$(pg_newest_bin)"
  [ -n "$bin" ] || return 1
  dir="$(mktemp -d /tmp/arvo-pg.XXXXXX)"
  port="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  runas=()
  if [ "$(id -u)" = 0 ]; then  # initdb and postgres refuse to run as root
    if id postgres >/dev/null 2>&1; then runas=(runuser -u postgres --); else runas=(runuser -u nobody --); fi
    chown "$(echo "${runas[2]}")" "$dir"
  fi
  "${runas[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust >"$dir/initdb.log" 2>&1 || return 1
  "${runas[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null || return 1
  ARVO_PG_DSN="postgresql://postgres@127.0.0.1:$port/test"
  ARVO_PG_STOP="${runas[*]} $bin/pg_ctl -D $dir/data -m fast -w stop >/dev/null; rm -rf $dir"
  pg_answers "$ARVO_PG_DSN" create
}

pg_ensure() {
  if [ -n "${ARVO_PG_DSN:-}" ]; then
    pg_answers "$ARVO_PG_DSN" || echo "warning: nothing answers at ARVO_PG_DSN=$ARVO_PG_DSN" >&2
    return 0
  fi
  if pg_answers "$ARVO_PG_DEFAULT_DSN" create; then
    export ARVO_PG_DSN="$ARVO_PG_DEFAULT_DSN"
    return 0
  fi
  if [ -z "$(pg_newest_bin)" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing PostgreSQL (apt-get install postgresql)..." >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  if pg_start_debian_cluster; then
    export ARVO_PG_DSN="$ARVO_PG_DEFAULT_DSN"
    return 0
  fi
  if pg_throwaway_cluster; then
    echo "Started a throwaway PostgreSQL at $ARVO_PG_DSN" >&2
    export ARVO_PG_DSN
    return 0
  fi
  echo "error: no PostgreSQL could be started; the PostgreSQL tests will fail" >&2
  export ARVO_PG_DSN="$ARVO_PG_DEFAULT_DSN"
}
