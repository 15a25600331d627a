#!/usr/bin/env bash
# The Debian package as a town's IT officer meets it (tests/run.sh runs this
# as root): build it with one command (the release build), install it with dpkg -i, make the
# town's certificate with `tls init` as the service's user, run the unit's
# ExecStart line (systemd does not run here) with the packaged
# configuration, and fetch the sign-in page over HTTPS with curl trusting
# only that authority; then dpkg -r removes the program and leaves the
# records. Ports and the media address are set through MEDIATION_*
# variables, which override the packaged file as they do on a server.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "package test: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A real installation on this machine is never touched: the test runs only
# where /var/lib/mediation is absent or was left by an earlier run of it.
marker=/var/lib/mediation/.left-by-tests-package-sh
if [ -e /var/lib/mediation ] && [ ! -e "$marker" ]; then
    echo "package test: SKIPPED, /var/lib/mediation holds a real installation's records" >&2
    exit 0
fi
dpkg --purge mediation-server >/dev/null 2>&1 || true
rm -rf /var/lib/mediation

# The release package towns install (tests/run.sh has built the release
# binary already); PACKAGE_BUILD_FLAGS=--debug packages the debug build, for
# a quicker run by hand.
# shellcheck disable=SC2086 # the flags, split
package="$(deploy/build-deb.sh ${PACKAGE_BUILD_FLAGS:-} | tail -n 1)"
[ -f "$package" ] || fail "no package built"
# grep reads all of it: with pipefail, `grep -q` quitting early can fail the pipe (SIGPIPE).
dpkg-deb --info "$package" | grep "Depends: libc6" >/dev/null || fail "the package declares no dependencies"
dpkg -i "$package" >/dev/null || fail "dpkg -i failed"
for path in /usr/bin/mediation-server /lib/systemd/system/mediation-server.service /etc/mediation/mediation.toml; do
    [ -e "$path" ] || fail "$path not installed"
done
getent passwd mediation >/dev/null || fail "no mediation user"
[ "$(stat -c '%U %a' /var/lib/mediation)" = "mediation 750" ] || fail "/var/lib/mediation: $(stat -c '%U %a' /var/lib/mediation)"
[ "$(stat -c '%G %a' /etc/mediation/mediation.toml)" = "mediation 640" ] || fail "the configuration's mode"
touch "$marker"

as_service() { runuser -u mediation -- "$@"; }
as_service /usr/bin/mediation-server --config /etc/mediation/mediation.toml tls init --host 127.0.0.1 >/dev/null \
    || fail "tls init failed"

port="$(free_port)"
redirect_port="$(free_port)"
media_port="$(free_port)"
exec_start="$(sed -n 's/^ExecStart=//p' /lib/systemd/system/mediation-server.service)"
log="$(mktemp)"
(
    cd /var/lib/mediation
    # A clean environment, as systemd gives the unit: nothing of this test
    # run's own (its DATABASE_URL above all) reaches the installed server.
    # shellcheck disable=SC2086 # the unit's command line, split as systemd splits it
    exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin NO_COLOR=1 \
        MEDIATION_LISTEN="127.0.0.1:$port" MEDIATION_REDIRECT_LISTEN="127.0.0.1:$redirect_port" \
        MEDIATION_PUBLIC_URL="https://127.0.0.1:$port" MEDIATION_RTC_IP=127.0.0.1 \
        MEDIATION_RTC_TCP_PORT="$media_port" \
        runuser -u mediation -- $exec_start
) >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 600); do
    grep -q "serving" "$log" && break
    kill -0 "$server" 2>/dev/null || { cat "$log" >&2; fail "the installed server exited"; }
    sleep 0.2
done
grep -q "serving" "$log" || { cat "$log" >&2; fail "the installed server did not start"; }
grep -q "set-up code" "$log" || fail "a first start without the demo prints no set-up code"

page="$(curl --silent --show-error --fail --cacert /var/lib/mediation/tls/ca.crt "https://127.0.0.1:$port/")" \
    || fail "the sign-in page over HTTPS"
grep -q "乡村远程调解平台" <<<"$page" || fail "the page is not the sign-in page"
location="$(curl --silent --output /dev/null --write-out '%{redirect_url}' "http://127.0.0.1:$redirect_port/index.html")"
[ "$location" = "https://127.0.0.1:$port/index.html" ] || fail "the redirect went to '$location'"
kill "$server"
wait "$server" 2>/dev/null || true

dpkg -r mediation-server >/dev/null || fail "dpkg -r failed"
[ ! -e /usr/bin/mediation-server ] || fail "dpkg -r left the program"
[ -f /var/lib/mediation/mediation.db ] || fail "dpkg -r removed the records"
[ -f /var/lib/mediation/tls/ca.key ] || fail "dpkg -r removed the certificate authority"
# Leave the machine as it was: the configuration too, and the records.
dpkg --purge mediation-server >/dev/null 2>&1
rm -rf /var/lib/mediation
echo "package test: built, installed, served the sign-in page over HTTPS, removed (records kept)"
