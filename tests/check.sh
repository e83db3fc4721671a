#!/bin/sh
# make check: install what the tests need, build release and sanitizer binaries,
# run every test against both, end with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."

tests/deps.sh || { echo "0 passed, 1 failed"; exit 1; }
make -s mailnook unit || { echo "0 passed, 1 failed"; exit 1; }
make -s asan || { echo "0 passed, 1 failed"; exit 1; }

pass=0
fail=0
for variant in release asan; do
	out=$(tests/run.sh "build/$variant/mailnook" "build/$variant/unit" "$variant")
	rc=$?
	printf '%s\n' "$out" | sed '$d'
	last=$(printf '%s\n' "$out" | tail -n 1)
	p=$(printf '%s\n' "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
	f=$(printf '%s\n' "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
	if [ -z "$p" ]; then p=0; f=1; fi
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	pass=$((pass + p))
	fail=$((fail + f))
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
