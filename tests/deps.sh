#!/bin/sh
# Install the build and test packages that are missing (Debian); quiet when all present.
set -u
pkgs="make gcc valgrind musl-tools libbearssl-dev python3 curl openssl fetchmail ipsvd openbsd-inetd systemd procps iproute2 libpython3.11-testsuite isync mutt shellcheck"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
