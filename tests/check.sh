#!/bin/sh
# make check: install what the tests need, build release, sanitizer and gcc binaries,
# run every test against release and ASan, the unit tests under valgrind, and end with
# "N passed, N failed".
set -u
cd "$(dirname "$0")/.."

tests/deps.sh || { echo "0 passed, 1 failed"; exit 1; }
make -s mailnook unit || { echo "0 passed, 1 failed"; exit 1; }
make -s asan || { echo "0 passed, 1 failed"; exit 1; }
make -s CC=gcc unit || { echo "0 passed, 1 failed"; exit 1; }
mkdir -p tests/out

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
tally tests/cross/check.sh -s mips_24kc arm_cortex-a7_neon-vfpv4
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
