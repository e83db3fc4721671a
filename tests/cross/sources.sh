#!/bin/sh
# Fetch the musl and BearSSL sources the cross sysroots are built from: Debian's source
# packages (their .orig tarballs, checked against the signed Sources index by apt), through a
# private apt configuration under build/apt so the system's sources stay as they are.
# Unpacks into build/src/musl and build/src/bearssl; with the argument `softfp` also gcc's
# soft-fp (build/src/softfp), the libgcc float routines soft-float MIPS needs because Debian's
# cross libgcc has them compiled for an FPU. Does nothing for what is already there.
set -eu
cd "$(dirname "$0")/../.."
top=$(pwd)
src=$top/build/src
want="musl bearssl"
[ "${1:-}" = softfp ] && want="$want gcc-12"
need=""
[ -f "$src/musl/configure" ] || need="$need musl"
[ -f "$src/bearssl/inc/bearssl.h" ] || need="$need bearssl"
case "$want" in *gcc-12*) [ -f "$src/softfp/libgcc/soft-fp/soft-fp.h" ] || need="$need gcc-12" ;; esac
[ -z "$need" ] && exit 0
a=$top/build/apt
mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$src/dl"
echo "deb-src http://deb.debian.org/debian bookworm main" >"$a/sources.list"
opts="-o Dir::Etc::SourceList=$a/sources.list -o Dir::Etc::SourceParts=/dev/null
	-o Dir::State::Lists=$a/lists -o Dir::Cache=$a/cache -o APT::Sandbox::User=root"
# shellcheck disable=SC2086 # opts are separate words
apt-get $opts -qq update
# shellcheck disable=SC2086
(cd "$src/dl" && apt-get $opts -qq source --download-only $need)
for p in $need; do
	rm -rf "${src:?}/$p"
	mkdir -p "$src/$p"
	tar -x -C "$src/$p" --strip-components=1 -f "$(ls "$src/dl/${p}_"*.orig.tar.[gx]z)"
done
# gcc's orig tarball holds the real one; only soft-fp, MIPS's sfp-machine.h and longlong.h.
if [ -d "$src/gcc-12" ]; then
	rm -rf "$src/softfp"
	mkdir -p "$src/softfp"
	xz -dc "$src/gcc-12/gcc-"*-dfsg.tar.xz | tar -x -C "$src/softfp" --strip-components=1 \
		--wildcards '*/libgcc/soft-fp/*' '*/libgcc/config/mips/sfp-machine.h' \
		'*/include/longlong.h' '*/COPYING.RUNTIME'
	rm -rf "$src/gcc-12"
fi
