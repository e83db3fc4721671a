#!/bin/sh
# Install what cross builds and their tests need (Debian): the cross gcc of each toolchain
# prefix given, qemu-user-static and shellcheck. Waits for another apt to finish first.
#   tests/cross/deps.sh mips-linux-gnu- arm-linux-gnueabi- ...
set -u
pkgs="qemu-user-static shellcheck xz-utils dpkg-dev"
for cross in "$@"; do
	command -v "${cross}gcc" >/dev/null 2>&1 || pkgs="$pkgs gcc-${cross%-}"
done
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
apt="$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900"
# shellcheck disable=SC2086 # $apt is a command line, $missing a list of names
$apt update -qq >/dev/null &&
$apt install -y -qq --no-install-recommends $missing >/dev/null
