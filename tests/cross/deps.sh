#!/bin/sh
# Install what cross builds and their tests need (Debian): the cross gcc of each toolchain
# prefix given, qemu-user-static and shellcheck, through tests/deps.sh (which waits for
# another apt to finish first).
#   tests/cross/deps.sh mips-linux-gnu- arm-linux-gnueabi- ...
set -u
pkgs="qemu-user-static shellcheck xz-utils dpkg-dev"
for cross in "$@"; do
	command -v "${cross}gcc" >/dev/null 2>&1 || pkgs="$pkgs gcc-${cross%-}"
done
# shellcheck disable=SC2086 # a list of package names
exec "$(dirname "$0")/../deps.sh" $pkgs
