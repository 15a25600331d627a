#!/usr/bin/env bash
# Builds the Debian package of the mediation server:
#   deploy/build-deb.sh            # release build -> target/debian/mediation-server_<version>_<arch>.deb
#   deploy/build-deb.sh --debug    # from the debug build (the test suite, to skip a release build)
# Needs only dpkg-deb and readelf (Debian: dpkg, binutils). The package holds
# the binary (/usr/bin), the systemd unit, the annotated configuration
# (/etc/mediation/mediation.toml, a conffile) and the other deploy/ files as
# examples; its maintainer scripts create the `mediation` system user and
# /var/lib/mediation, and never delete the records.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
compression=(-Zxz)
if [ "${1:-}" = "--debug" ]; then
    profile=debug
    # A debug binary is large; xz would take a minute over it.
    compression=(-Zgzip -z1)
    cargo build --quiet -p mediation-server --bin mediation-server
else
    cargo build --quiet --release -p mediation-server --bin mediation-server
fi
target_dir="${CARGO_TARGET_DIR:-target}"
binary="$target_dir/$profile/mediation-server"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"
arch="$(dpkg --print-architecture)"
# The newest glibc symbol version the binary uses is the oldest libc6 it runs on.
glibc="$(readelf --version-info --wide "$binary" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
docs="$stage/usr/share/doc/mediation-server"
install -D -m 0755 "$binary" "$stage/usr/bin/mediation-server"
install -D -m 0644 deploy/mediation-server.service "$stage/lib/systemd/system/mediation-server.service"
install -D -m 0640 deploy/mediation.toml "$stage/etc/mediation/mediation.toml"
install -D -m 0644 README.md "$docs/README.md"
install -D -m 0644 docs/deployment.md "$docs/deployment.md"
for example in coturn.conf nginx.conf postgres-setup.sql env.example; do
    install -D -m 0644 "deploy/$example" "$docs/examples/$example"
done
cat > "$docs/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: mediation-server
License: Apache-2.0

Files: *
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
COPYRIGHT

mkdir -p "$stage/DEBIAN"
installed_size="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: mediation-server
Version: $version
Architecture: $arch
Maintainer: Rural Remote Mediation maintainers <mediation@localhost>
Installed-Size: $installed_size
Depends: libc6 (>= $glibc), libgcc-s1, adduser
Suggests: postgresql (>= 15), coturn
Section: net
Priority: optional
Description: video mediation server for rural people's mediation
 Signaling, a WebRTC SFU and the case records of people's mediation
 (人民调解) between a town's mediation office, its village stations and
 remote legal advisers. The web client, HTTPS and the town's own
 certificate authority are built in; records go to SQLite or PostgreSQL.
CONTROL
echo "/etc/mediation/mediation.toml" > "$stage/DEBIAN/conffiles"

cat > "$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    if ! getent passwd mediation >/dev/null; then
        adduser --system --group --home /var/lib/mediation --no-create-home --quiet mediation
    fi
    mkdir -p /var/lib/mediation
    chown mediation:mediation /var/lib/mediation
    chmod 0750 /var/lib/mediation
    chgrp mediation /etc/mediation/mediation.toml
    chmod 0640 /etc/mediation/mediation.toml
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload >/dev/null || true
    fi
    cat <<'NEXT'
mediation-server is installed. Next:
  1. edit /etc/mediation/mediation.toml (addresses, database)
  2. sudo -u mediation mediation-server --config /etc/mediation/mediation.toml tls init --host <address>
  3. mediation-server --config /etc/mediation/mediation.toml doctor
  4. systemctl enable --now mediation-server, then open the address: the first page asks
     for the set-up code the server printed (journalctl -u mediation-server)
NEXT
fi
POSTINST

cat > "$stage/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
    systemctl stop mediation-server >/dev/null 2>&1 || true
    systemctl disable mediation-server >/dev/null 2>&1 || true
fi
PRERM

cat > "$stage/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null || true
fi
# The records in /var/lib/mediation (the database, the keys that seal ID
# numbers, the audit trail the law asks to keep) are never deleted here,
# not even on purge: remove them by hand once they are backed up.
POSTRM
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"

mkdir -p "$target_dir/debian"
package="$target_dir/debian/mediation-server_${version}_${arch}.deb"
dpkg-deb --root-owner-group "${compression[@]}" --build "$stage" "$package" >/dev/null
echo "$package"
