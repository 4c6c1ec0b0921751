#!/usr/bin/env bash
# tests/pg/smoke.sh — checks the throw-away cluster of tests/pg/pg_cluster (ctest pg_cluster_smoke).
#
# Usage: tests/pg/smoke.sh URLFILE
#
# Connects with psql (the newest /usr/lib/postgresql/*/bin/psql, else psql on PATH) to the URL in
# URLFILE and checks that SELECT 1+1 answers 2, as the superuser weir in the database weir, over
# the Unix socket; that the server listens on no TCP address (listen_addresses is empty); that
# fsync is on. Exit 1 naming each difference, 2 on bad usage.
set -euo pipefail

if [[ $# -ne 1 || $1 == -* ]]; then
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    [[ ${1:-} == -h || ${1:-} == --help ]] && exit 0
    exit 2
fi
urlfile=$1
[[ -s $urlfile ]] || {
    echo "smoke: $urlfile: missing or empty (did pg_cluster_start run?)" >&2
    exit 1
}
url=$(head -n 1 "$urlfile")

psql=""
while read -r p; do
    [[ -x $p ]] && psql=$p
done < <(printf '%s\n' /usr/lib/postgresql/*/bin/psql | sort -V)
[[ -n $psql ]] || psql=$(command -v psql) || {
    echo "smoke: no psql (Debian package postgresql-client)" >&2
    exit 1
}

failures=0
# check SQL EXPECTED: the one value SQL answers must be EXPECTED.
check() {
    local got
    if ! got=$("$psql" -X -A -t -q -v ON_ERROR_STOP=1 -d "$url" -c "$1" 2>&1); then
        echo "smoke: FAIL: $1: psql failed: $got" >&2
        failures=$((failures + 1))
    elif [[ $got != "$2" ]]; then
        echo "smoke: FAIL: $1: got '$got', want '$2'" >&2
        failures=$((failures + 1))
    else
        echo "smoke: ok: $1 = '$got'"
    fi
}

echo "smoke: $psql against $url"
check "SELECT 1+1" 2
check "SELECT current_user || ' ' || current_database()" "weir weir"
check "SELECT rolsuper FROM pg_roles WHERE rolname = current_user" t
# inet_server_addr() is NULL on a Unix-socket connection.
check "SELECT inet_server_addr() IS NULL" t
check "SHOW listen_addresses" ""
check "SHOW fsync" on
[[ $failures -eq 0 ]] || exit 1
