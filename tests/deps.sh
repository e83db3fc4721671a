#!/bin/sh
# Install the build and test packages that are missing (Debian); quiet when all present.
# With arguments, those packages instead (tests/cross/deps.sh names the cross ones).
# Another apt (unattended-upgrades on a fresh system) may hold the dpkg lock: wait for it,
# up to DEPS_LOCK_WAIT seconds per apt-get call, and try each call a few times.
set -u
pkgs="make gcc valgrind musl-tools libbearssl-dev python3 curl openssl fetchmail ipsvd openbsd-inetd systemd procps iproute2 libpython3.11-testsuite isync mutt strace shellcheck"
[ "$#" -gt 0 ] && pkgs="$*"
wait=${DEPS_LOCK_WAIT:-300}
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
apt_get() {
	tries=0
	until $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$wait" \
	    -qq "$@" >/dev/null; do
		tries=$((tries + 1))
		[ "$tries" -ge 3 ] && { echo "deps.sh: apt-get $1 failed"; return 1; }
		echo "deps.sh: apt-get $1 failed, trying again"
		sleep 10
	done
}
# shellcheck disable=SC2086 # a list of package names
apt_get update && apt_get install -y --no-install-recommends $missing
