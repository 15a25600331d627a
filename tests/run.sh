#!/usr/bin/env bash
# Runs every check and test of the project on a fresh machine:
#   formatting, clippy, and the whole test suite against SQLite and PostgreSQL.
# When DATABASE_URL is not set it starts a throwaway PostgreSQL cluster in a
# temporary directory (installing the server binaries if they are missing) and
# stops it on exit, even on failure.
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

log() { printf '\n==> %s\n' "$*"; }

as_root() { [ "$(id -u)" = 0 ]; }

find_pg_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

install_postgres() {
    if as_root && command -v apt-get >/dev/null; then
        log "installing PostgreSQL server binaries"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
}

PG_TMP=""
PG_BIN=""
PG_RUN_AS=()
stop_postgres() {
    if [ -n "$PG_TMP" ] && [ -d "$PG_TMP/data" ]; then
        "${PG_RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$PG_TMP"
    fi
}

start_postgres() {
    PG_BIN="$(find_pg_bin)"
    if [ -z "$PG_BIN" ]; then
        install_postgres
        PG_BIN="$(find_pg_bin)"
    fi
    if [ -z "$PG_BIN" ]; then
        echo "PostgreSQL server binaries not found and cannot be installed; set DATABASE_URL" >&2
        exit 1
    fi
    PG_TMP="$(mktemp -d /tmp/mediation-pg.XXXXXX)"
    chmod 755 "$PG_TMP"
    if as_root; then
        # initdb refuses to run as root.
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        chown postgres "$PG_TMP"
        PG_RUN_AS=(runuser -u postgres --)
    else
        PG_RUN_AS=(env)
    fi
    trap stop_postgres EXIT
    local port
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    log "starting a throwaway PostgreSQL ($PG_BIN) on 127.0.0.1:$port"
    "${PG_RUN_AS[@]}" "$PG_BIN/initdb" -D "$PG_TMP/data" -U postgres -A trust --no-sync -E UTF8 >"$PG_TMP/initdb.log" 2>&1 \
        || { cat "$PG_TMP/initdb.log" >&2; exit 1; }
    "${PG_RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 \
        -o "-p $port -k $PG_TMP -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >/dev/null || { cat "$PG_TMP/server.log" >&2; exit 1; }
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

if [ -z "${DATABASE_URL:-}" ]; then
    start_postgres
fi
case "$DATABASE_URL" in
    postgres://* | postgresql://*) ;;
    *) echo "DATABASE_URL must point at PostgreSQL for the test run" >&2; exit 1 ;;
esac

# A clean build of everything below takes several gigabytes.
log "free disk space where the build goes: $(df -h --output=avail . | tail -n 1 | tr -d ' ')"

log "cargo fmt --check"
cargo fmt --all --check

log "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

# Installs Debian packages the tests need, when run as root with apt-get.
apt_install() {
    if as_root && command -v apt-get >/dev/null; then
        log "installing $*"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
            || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
    else
        echo "missing $* and cannot install it (not root or no apt-get)" >&2
        return 1
    fi
}

log "cargo test (SQLite and PostgreSQL)"
TEST_LOG="$(mktemp /tmp/mediation-tests.XXXXXX)"
E2E_LOG="$(mktemp /tmp/mediation-e2e.XXXXXX)"
cargo_status=0
# The installation tests (tests/tests/install.rs) run the release binary a
# town installs, copied alone into an empty directory; the package test
# packages it. The debug binary serves schemathesis.
cargo build --quiet -p mediation-server --bin mediation-server
cargo build --quiet --release -p mediation-server --bin mediation-server
export MEDIATION_SERVER_BINARY="${CARGO_TARGET_DIR:-$PWD/target}/release/mediation-server"
cargo test --workspace --quiet 2>&1 | tee "$TEST_LOG" || cargo_status=$?

# Schemathesis against the OpenAPI document, on both databases, as a
# mediator and as the administrator (tests/schemathesis/run.sh; Python venv).
log "schemathesis (SQLite and PostgreSQL)"
schemathesis_status=0
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
tests/schemathesis/run.sh 2>&1 | tee -a "$TEST_LOG" || schemathesis_status=$?

# The Debian package: built, installed, served over HTTPS, removed
# (tests/package.sh; needs root for dpkg).
package_status=0
if as_root && command -v dpkg-deb >/dev/null; then
    log "Debian package (build, dpkg -i, HTTPS, dpkg -r)"
    command -v readelf >/dev/null || apt_install binutils
    command -v curl >/dev/null || apt_install curl
    tests/package.sh || package_status=$?
else
    log "Debian package test skipped (needs root and dpkg)"
fi

# Browser tests need Chromium (Debian's, never a downloaded one), a font with
# Chinese glyphs for the screenshots, Node and the playwright-core package.
command -v chromium >/dev/null || apt_install chromium
fc-list :lang=zh 2>/dev/null | grep . >/dev/null || apt_install fonts-wqy-zenhei
command -v npm >/dev/null || apt_install nodejs npm
# The walk-through runs over HTTPS: the town authority goes into the test
# browser's NSS certificate store with certutil.
command -v certutil >/dev/null || apt_install libnss3-tools
# The village-link browser tests build network namespaces, veth pairs, tc
# rate limits, nftables drops and a delay (tests/e2e/link.mjs).
command -v ip >/dev/null && command -v tc >/dev/null || apt_install iproute2
command -v nft >/dev/null || apt_install nftables
# Propagation delay: iptables NFQUEUE rules hand the namespace's packets to
# tests/src/bin/link_delay.rs (this kernel has neither netem nor nftables'
# queue expression, so the legacy iptables backend is used).
command -v iptables-legacy >/dev/null || apt_install iptables
# coturn for tests/e2e/turn-relay.test.mjs (the test starts its own turnserver).
command -v turnserver >/dev/null || apt_install coturn
# The aiortc participant of tests/e2e/independent-stack.test.mjs (a third
# WebRTC stack, from PyPI, in a virtual environment of its own).
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
[ -x tests/aiortc/.venv/bin/python ] || python3 -m venv tests/aiortc/.venv
tests/aiortc/.venv/bin/pip install -q --disable-pip-version-check -r tests/aiortc/requirements.txt

log "browser end-to-end tests (Playwright driving Chromium, PostgreSQL)"
e2e_status=0
(
    set -e
    cargo build --quiet -p mediation-tests --bin e2e_server --bin link_delay
    cd tests/e2e
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
    CHROMIUM="$(command -v chromium)" node --test --test-concurrency=1 --test-reporter=spec ./
) 2>&1 | tee "$E2E_LOG" || e2e_status=$?

# One closing line for the whole run: the sum over every test binary and the
# browser tests.
awk -v e2e="$E2E_LOG" '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     FILENAME == e2e && NF == 3 && $2 == "pass" && $3 ~ /^[0-9]+$/ { p += $3 }
     FILENAME == e2e && NF == 3 && $2 == "fail" && $3 ~ /^[0-9]+$/ { f += $3 }
     END { printf "\ntests: %d passed, %d failed\n", p, f }' "$TEST_LOG" "$E2E_LOG"
rm -f "$TEST_LOG" "$E2E_LOG"
if [ "$cargo_status" != 0 ] || [ "$schemathesis_status" != 0 ] || [ "$package_status" != 0 ] || [ "$e2e_status" != 0 ]; then
    echo "FAILED (cargo test exit $cargo_status, schemathesis exit $schemathesis_status, package test exit $package_status, browser tests exit $e2e_status)" >&2
    exit 1
fi
echo "all checks passed (screenshots in target/e2e-screenshots/)"
