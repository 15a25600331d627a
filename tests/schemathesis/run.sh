#!/usr/bin/env bash
# Schemathesis against /api/v1/openapi.json, on SQLite and on PostgreSQL, as
# a mediator and then as the administrator (whose run resets passwords and
# deactivates units, so it comes last): every check, with the exceptions
# tests/schemathesis/schemathesis.toml lists and explains (see
# docs/benchmarks.md, "API contract"). No server errors, responses as the
# schema says (status codes, content types, headers, bodies), schema-invalid
# requests refused, schema-valid requests accepted, authentication not
# ignored. Bounded: EXAMPLES per operation (default 25) and a time limit
# per run.
#
# Needs the server binary built (target/debug/mediation-server), python3
# with venv, and DATABASE_URL pointing at PostgreSQL (tests/run.sh provides
# all three).
set -euo pipefail
cd "$(dirname "$0")/../.."

EXAMPLES="${EXAMPLES:-25}"
VENV=tests/schemathesis/.venv
[ -x "$VENV/bin/schemathesis" ] || {
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r tests/schemathesis/requirements.txt
}
SERVER=target/debug/mediation-server
PASSWORD=schemathesis-demo-password
WORK="$(mktemp -d /tmp/mediation-schemathesis.XXXXXX)"
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

token() {
    python3 - "$BASE" "$1" "$PASSWORD" <<'PY'
import json, sys, urllib.request
base, username, password = sys.argv[1:]
body = json.dumps({"username": username, "password": password}).encode()
request = urllib.request.Request(f"{base}/api/v1/auth/login", body, {"content-type": "application/json"})
print(json.load(urllib.request.urlopen(request))["token"])
PY
}

answers() {
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" 2>/dev/null
}

# One database: a fresh server with the demo town, a run per role.
run_on() {
    local name="$1" database_url="$2" port
    port="$(free_port)"
    BASE="http://127.0.0.1:$port"
    # Login throttling off for the run: schemathesis sends many wrong
    # passwords from one address, and the other runs still need to sign in.
    "$SERVER" --listen "127.0.0.1:$port" --database-url "$database_url" --data-dir "$WORK/$name" \
        --demo --demo-password "$PASSWORD" --login-max-failures 1000000 >"$WORK/$name.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        answers "$BASE/healthz" && break
        sleep 0.2
    done
    # Both tokens first: the administrator's run may reset the mediator's password.
    local mediator admin
    mediator="$(token mediator1)"
    admin="$(token admin)"
    local status=0
    for role in mediator admin; do
        local bearer="$mediator"
        [ "$role" = admin ] && bearer="$admin"
        echo "==> schemathesis on $name as $role ($EXAMPLES examples per operation)"
        # No --checks here: the command line would override the config's
        # per-operation exceptions.
        timeout 600 "$VENV/bin/schemathesis" --config-file tests/schemathesis/schemathesis.toml \
            run "$BASE/api/v1/openapi.json" --url "$BASE" \
            -H "Authorization: Bearer $bearer" --max-examples "$EXAMPLES" --seed 20261129 \
            --no-color >"$WORK/$name-$role.txt" 2>&1 || status=$?
        tail -n 25 "$WORK/$name-$role.txt"
        if [ "$status" != 0 ]; then
            sed -n '/FAILURES/,$p' "$WORK/$name-$role.txt" | head -n 200
            return "$status"
        fi
    done
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

run_on sqlite "sqlite://$WORK/sqlite.db"
database="schemathesis_$$"
psql -q "${DATABASE_URL:?set DATABASE_URL to a PostgreSQL server}" -c "CREATE DATABASE $database"
run_on postgres "${DATABASE_URL%/*}/$database"
