#!/usr/bin/env bash
# A throw-away PostgreSQL server for the tests: `start DIR` prints its URL, `stop DIR` ends it.
#
#   url=$(bash scripts/pg_throwaway.sh start "$(mktemp -d)")   # postgresql+psycopg://strata@127.0.0.1:PORT/strata
#   bash scripts/pg_throwaway.sh stop DIR
#
# Debian's PostgreSQL binaries (apt-get install postgresql; `make setup` does it) run from
# /usr/lib/postgresql/*/bin. The cluster lives in DIR/data, listens on 127.0.0.1 at a free port
# and on a socket in DIR, trusts local connections and has one superuser, strata. PostgreSQL
# refuses to run as root, so as root the server runs as the `postgres` user Debian creates.
set -euo pipefail

cmd=${1:?usage: pg_throwaway.sh start|stop DIR}
dir=${2:?usage: pg_throwaway.sh start|stop DIR}

initdb=$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
bindir=$(dirname "$(readlink -f "${initdb:-/nonexistent}")")
if [[ ! -x "$bindir/initdb" || ! -x "$bindir/pg_ctl" ]]; then
    echo "pg_throwaway: no PostgreSQL found (initdb, pg_ctl); install it with 'apt-get install -y postgresql' or run 'make setup'" >&2
    exit 1
fi

as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        if ! id postgres >/dev/null 2>&1; then
            echo "pg_throwaway: running as root and there is no 'postgres' user to run the server as; install Debian's postgresql package" >&2
            exit 1
        fi
        (cd / && runuser -u postgres -- "$@")  # from /: the caller's folder may be closed to postgres
    else
        "$@"
    fi
}

case "$cmd" in
start)
    mkdir -p "$dir"
    [[ $(id -u) -eq 0 ]] && chown postgres "$dir"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bindir/initdb" -D "$dir/data" -U strata -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50" start >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
    as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U strata strata
    echo "postgresql+psycopg://strata@127.0.0.1:$port/strata"
    ;;
stop)
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: pg_throwaway.sh start|stop DIR" >&2
    exit 2
    ;;
esac
