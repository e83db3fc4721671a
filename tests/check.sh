#!/bin/sh
# make check: install what the tests need, build release, sanitizer and gcc binaries,
# run every test against release and ASan, the unit tests under valgrind, and end with
# "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 1

tests/deps.sh || { echo "0 passed, 1 failed"; exit 1; }
make -s mailnook unit || { echo "0 passed, 1 failed"; exit 1; }
make -s asan || { echo "0 passed, 1 failed"; exit 1; }
make -s CC=gcc unit || { echo "0 passed, 1 failed"; exit 1; }
mkdir -p tests/out

# The cross profiles CI checks: their toolchains, musl and BearSSL (pure compilation, no
# test) build at the lowest priority while the native tests run; the tests under qemu
# come last, and tests/cross/check.sh reports a build that failed here.
cross_profiles="mips_24kc arm_cortex-a7_neon-vfpv4"
crosses=""
for p in $cross_profiles; do
	crosses="$crosses $(make -s --no-print-directory BOARD="$p" print-CROSS)"
done
# shellcheck disable=SC2086 # one prefix per word
tests/cross/deps.sh $crosses >tests/out/cross-deps.log 2>&1
build_cross() {
	for p in $cross_profiles; do
		nice -n 19 make -s BOARD="$p" sysroot && nice -n 19 make -s BOARD="$p" mailnook unit
	done
}
build_cross >tests/out/cross-build.log 2>&1 &
cross_build=$!

pass=0
fail=0
# tally CMD...: run a test pass, show its lines, add its closing counts to the totals.
tally() {
	out=$("$@")
	rc=$?
	printf '%s\n' "$out" | sed '$d'
	last=$(printf '%s\n' "$out" | tail -n 1)
	p=$(printf '%s\n' "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
	f=$(printf '%s\n' "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
	if [ -z "$p" ]; then p=0; f=1; fi
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	pass=$((pass + p))
	fail=$((fail + f))
}
for variant in release asan; do
	tally tests/run.sh "build/$variant/mailnook" "build/$variant/unit" "$variant"
done
tally tests/valgrind.sh
tally python3 tests/layering.py
wait "$cross_build"
# shellcheck disable=SC2086 # one profile per word
tally tests/cross/check.sh -s $cross_profiles
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
