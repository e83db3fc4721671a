#!/bin/sh
# Unit tests of the gcc build under valgrind memcheck: uninitialised reads and invalid
# accesses that the sanitizers can miss. One "ok/FAIL - valgrind NAME" line per binary.
# Tests whose checks race real timeouts (TLS handshakes against python, lock backoff,
# concurrent APPEND stress) run only in the release and ASan passes: valgrind's slowdown
# would make their timing, not the code, fail.
set -u
cd "$(dirname "$0")/.."
pass=0
fail=0
for t in build/gcc/unit/test_*; do
	case "$t" in *test_tls|*test_lock|*test_store_imap) continue ;; esac
	name=$(basename "$t")
	if timeout 300 valgrind -q --error-exitcode=99 --leak-check=no "$t" >/dev/null 2>"tests/out/valgrind.$name.log"; then
		echo "ok - valgrind $name"
		pass=$((pass + 1))
	else
		echo "FAIL - valgrind $name (tests/out/valgrind.$name.log)"
		grep '^==' "tests/out/valgrind.$name.log" | head -n 10 | sed 's/^/    | /'
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
