#!/bin/sh
# The OpenWrt package (board/openwrt/) built as an SDK builds it, as near as this machine
# allows: there is no OpenWrt SDK here, so its rules.mk and include/package.mk are the small
# stand-ins in tests/cross/sdk (OpenWrt's mipsel_24kc flags, Debian's cross gcc with the
# mipsel_24kc profile's musl). What runs is the packages' own recipes: BearSSL's
# Build/Compile on BearSSL's sources, then mailnook's on the `make dist` tarball, linked
# with the BearSSL so staged; then the installed tree is checked and the binary run under
# qemu with the 24Kc CPU (no FPU).   tests/cross/package.sh
# Needs the profile's sysroot (make BOARD=mipsel_24kc sysroot). Not proven here: OpenWrt's
# own gcc and musl, its package.mk (ipk making, stripping, dependencies) and PKG_HASH.
# Ends with "N passed, N failed" like tests/run.sh.
set -u
cd "$(dirname "$0")/../.." || exit 1
top=$(pwd)
pass=0
fail=0
ok() {
	echo "ok - $*"
	pass=$((pass + 1))
}
bad() {
	echo "FAIL - $*"
	fail=$((fail + 1))
}
check() {
	what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
# has TEXT REGEX: a line of TEXT matches
# shellcheck disable=SC2317 # called through check
has() {
	printf '%s\n' "$1" | grep -q -- "$2"
}
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}
t=$(mktemp -d "${TMPDIR:-/tmp}/mailnook-pkg.XXXXXX") || exit 1
trap 'rm -rf "$t"' EXIT
q() {
	make -s --no-print-directory BOARD=mipsel_24kc "print-$1"
}
cross=$(q CROSS)
musl=$(q SYSROOT)
banned=$(q BANNED_INSNS)
version=$(make -s --no-print-directory print-VERSION)

# --- make dist: reproducible (so a PKG_HASH can name it), the layout the SDK unpacks ---
tarball=build/mailnook-$version.tar.gz
if ! make -s dist >"$t/dist1" 2>&1 || ! cp "$tarball" "$t/first.tar.gz" ||
	! make -s dist >"$t/dist2" 2>&1; then
	cat "$t/dist1" "$t/dist2" 2>/dev/null
	bad "make dist"
	finish
fi
check "make dist writes the same bytes twice" cmp -s "$t/first.tar.gz" "$tarball"
check "make dist prints the tarball's sha256 as PKG_HASH" grep -qx \
	"PKG_HASH:=$(sha256sum "$tarball" | cut -d' ' -f1)" "$t/dist2"
tar -tzf "$tarball" >"$t/list"
check "the tarball holds only mailnook-$version/" test -z "$(grep -v "^mailnook-$version/" "$t/list")"
for f in Makefile src/main.c LICENSE; do
	check "the tarball holds $f" grep -qx "mailnook-$version/$f" "$t/list"
done
check "the tarball holds no board/openwrt" test -z "$(grep /board/openwrt "$t/list")"
pv=$(sed -n 's/^PKG_VERSION:=//p' board/openwrt/mailnook/Makefile)
check "the package's PKG_VERSION is the source's version ($version)" test "$pv" = "$version"

# --- the packages' recipes, run through the stand-in SDK ---
if [ ! -f "$musl/lib/musl-gcc.specs" ] || [ ! -f build/src/bearssl/inc/bearssl.h ]; then
	bad "the mipsel_24kc sysroot and BearSSL sources (make BOARD=mipsel_24kc sysroot)"
	finish
fi
mkdir -p "$t/dl" "$t/staging" "$t/build" "$t/root"
cp "$tarball" "$t/dl/"
# Debian's BearSSL 0.6 source (upstream's less its prebuilt T0Comp.exe), packed as
# the upstream tarball the package names.
tar -czf "$t/dl/bearssl-0.6.tar.gz" -C build/src --transform 's|^bearssl|bearssl-0.6|' bearssl
# The FPU check runs where mailnook's Makefile runs it, at link before stripping (MIPS16 code
# can't be told from data in a stripped binary): BANNED_INSNS reaches the package's make
# of mailnook through MAKEFLAGS, as make passes command-line variables on; $ doubled there.
banned_mk=$(printf '%s' "$banned" | sed 's/[$]/$$/g')
sdk() {
	make -C "board/openwrt/$1" TOPDIR="$top/tests/cross/sdk" TARGET_CROSS="$cross" \
		STANDIN_MUSL="$musl" STAGING_DIR="$t/staging" BUILD_DIR="$t/build" \
		DL_DIR="$t/dl" PKG_INSTALL_ROOT="$t/root" BANNED_INSNS="$banned_mk" >"$t/$1.log" 2>&1
}
if sdk bearssl && [ -f "$t/staging/usr/lib/libbearssl.a" ] &&
	[ -f "$t/staging/usr/include/bearssl/bearssl.h" ]; then
	ok "bearssl: Build/Compile and Build/InstallDev stage libbearssl.a and its headers"
else
	tail -n 20 "$t/bearssl.log"
	bad "bearssl: Build/Compile and Build/InstallDev"
	finish
fi
if sdk mailnook; then
	ok "mailnook: Build/Compile and Package/mailnook/install"
else
	tail -n 20 "$t/mailnook.log"
	bad "mailnook: Build/Compile and Package/mailnook/install"
	finish
fi
check "mailnook linked the staged BearSSL" \
	grep -q "$t/staging/usr/lib/libbearssl.a" "$t/mailnook.log"

# --- what the package installs ---
r=$t/root/mailnook
bin=$r/usr/sbin/mailnook
check "installs /usr/sbin/mailnook (executable)" test -x "$bin"
check "installs /etc/init.d/mailnook (executable)" test -x "$r/etc/init.d/mailnook"
check "installs /etc/config/mailnook" test -f "$r/etc/config/mailnook"
[ -x "$bin" ] || finish
hdr=$(readelf -h "$bin")
check "ELF32" has "$hdr" 'Class: *ELF32$'
check "little-endian" has "$hdr" 'Data:.*little endian'
check "MIPS, MIPS32 release 2 code" has "$hdr" 'Flags:.*mips32r2'
check "dynamically linked with the image's musl (/lib/ld-musl-mipsel-sf.so.1)" \
	has "$(readelf -l "$bin")" 'interpreter: /lib/ld-musl-mipsel-sf.so.1'
check "no FPU instructions (checked at link)" \
	has "$(grep -F "$banned" "$t/mailnook.log")" 'binary-check.sh build/openwrt/mailnook.tmp'
echo "installed: /usr/sbin/mailnook $(wc -c <"$bin") bytes, package tree $(du -sk "$r" | cut -f1) KB"

# --- run under qemu on a CPU without an FPU, with the sysroot's musl as the image's ---
run() {
	qemu-mipsel-static -cpu 24Kc -L "$musl" "$bin" -c "$t/conf" "$@"
}
mkdir -p "$t/mail" "$t/run"
printf 'mail_root %s\npasswd_file %s\nruntime_dir %s\nuser %s\nlog stderr\n' \
	"$t/mail" "$t/passwd" "$t/run" "$(id -un)" >"$t/conf"
check "mailnook version" has "$(run version)" "$version"
printf 'secret\n' | run passwd alice >/dev/null 2>"$t/err"
check "mailnook passwd writes a SHA-512 crypt hash" grep -q '^alice:[$]6[$]' "$t/passwd"
run cert --cert "$t/cert.pem" --key "$t/key.pem" router.lan 192.168.1.1 >/dev/null 2>>"$t/err"
pub=$(openssl x509 -in "$t/cert.pem" -noout -pubkey 2>/dev/null)
check "mailnook cert writes a certificate for its key" test -n "$pub" -a \
	"$pub" = "$(openssl ec -in "$t/key.pem" -pubout 2>/dev/null)"
[ "$fail" -gt 0 ] && sed 's/^/    | /' "$t/err"
finish
