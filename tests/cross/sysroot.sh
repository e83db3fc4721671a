#!/bin/sh
# Build musl and BearSSL for one cross profile into its sysroot, with the profile's CPU flags:
#   tests/cross/sysroot.sh SYSROOT CROSS "ARCH_CFLAGS" [softfp]
# `softfp`: also libsoftfp.a, gcc's soft-fp routines built for the target, linked ahead of
# the toolchain's libgcc (whose float routines use the FPU). Leaves SYSROOT/lib/musl-gcc.specs
# (musl's own, the dynamic linker set to its /lib path on the target), libc, libbearssl.a
# and the headers. From the environment: CODE_CFLAGS, more
# flags for BearSSL only; STATIC=1, no shared musl. Skips what is already built.
set -eu
sysroot=$1
cross=$2
aflags=$3
softfp=${4:-}
cd "$(dirname "$0")/../.."
top=$(pwd)
tests/cross/sources.sh "$softfp"
work=$(dirname "$sysroot")/work
jobs=2
# A static profile needs no libc.so, which saves building musl a second time as PIC.
shared=""
[ "${STATIC:-0}" = 1 ] && shared=--disable-shared
if [ ! -f "$sysroot/lib/musl-gcc.specs" ]; then
	rm -rf "$work/musl"
	mkdir -p "$work/musl"
	# The specs file names syslibdir as the dynamic linker: installed under the sysroot
	# here (for qemu -L), /lib on the target.
	(cd "$work/musl" && "$top/build/src/musl/configure" -q --prefix="$sysroot" \
		--syslibdir="$sysroot/lib" --target="${cross%-}" --enable-wrapper=gcc $shared \
		CC="${cross}gcc" CFLAGS="-Os $aflags" &&
		make -s -j"$jobs" && make -s install) >"$work/musl.log" 2>&1 ||
		{ tail -n 20 "$work/musl.log" >&2; exit 1; }
	sed -i "s|-dynamic-linker $sysroot/lib/|-dynamic-linker /lib/|" "$sysroot/lib/musl-gcc.specs"
fi
if [ ! -f "$sysroot/lib/libbearssl.a" ]; then
	b=$work/bearssl
	rm -rf "$b"
	mkdir -p "$b"
	# BearSSL's own build would need its config per target; every source file compiled
	# with the profile's flags is all it takes.
	# shellcheck disable=SC2016 # the inner script expands its own arguments
	(cd build/src/bearssl && ls src/*/*.c) | xargs -P "$jobs" -I{} sh -c \
		'o="$1/$(basename "$2" .c).o"; '"${cross}"'gcc -specs "$3/lib/musl-gcc.specs" \
		-Os $4 $5 -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables \
		-fno-unwind-tables -Ibuild/src/bearssl/inc -Ibuild/src/bearssl/src \
		-c -o "$o" "build/src/bearssl/$2"' sh "$b" {} "$sysroot" "$aflags" "${CODE_CFLAGS:-}"
	"${cross}ar" rcs "$b/libbearssl.a" "$b"/*.o
	cp build/src/bearssl/inc/*.h "$sysroot/include/"
	mv "$b/libbearssl.a" "$sysroot/lib/libbearssl.a"
fi
if [ "$softfp" = softfp ] && [ ! -f "$sysroot/lib/libsoftfp.a" ]; then
	b=$work/softfp
	rm -rf "$b"
	mkdir -p "$b"
	f=build/src/softfp/libgcc
	for fn in add sub mul div neg eq ge le unord; do
		for t in sf df; do
			echo "${fn}${t}3 ${fn}${t}2"
		done
	done | tr ' ' '\n' | while read -r n; do
		[ -f "$f/soft-fp/$n.c" ] && echo "$n"
	done >"$b/list"
	printf '%s\n' fixdfsi fixunsdfsi floatsidf floatunsidf fixdfdi fixunsdfdi floatdidf \
		floatundidf fixsfsi fixunssfsi floatsisf floatunsisf extendsfdf2 truncdfsf2 >>"$b/list"
	# shellcheck disable=SC2086 # aflags are separate flags
	while read -r n; do
		"${cross}gcc" -specs "$sysroot/lib/musl-gcc.specs" -Os $aflags \
			-fno-asynchronous-unwind-tables -I"$f/soft-fp" -I"$f/config/mips" \
			-I"$f/../include" -c -o "$b/$n.o" "$f/soft-fp/$n.c"
	done <"$b/list"
	"${cross}ar" rcs "$sysroot/lib/libsoftfp.a" "$b"/*.o
	sed -i "/^\*libgcc:/{n;s|^|$sysroot/lib/libsoftfp.a |}" "$sysroot/lib/musl-gcc.specs"
fi
