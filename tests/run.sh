#!/bin/sh
# Run every test against one binary: tests/run.sh BINARY UNITDIR [LABEL] [PATTERN]
# Unit binaries in UNITDIR, then tests/e2e/*.sh and *.py with $MAILNOOK set.
# Each test prints "ok - what" / "FAIL - what"; a test that exits non-zero with no
# FAIL line, or that checked nothing (no ok line), counts as one failure. Full output
# goes to tests/out/LABEL/.
set -u
cd "$(dirname "$0")/.."
bin=$(realpath "$1")
unitdir=$2
label=${3:-run}
pattern=${4:-}
out=tests/out/$label
rm -rf "$out"
mkdir -p "$out"
export MAILNOOK="$bin"
export MAILNOOK_VARIANT="$label"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

pass=0
fail=0
run_one() {
	name=$1
	shift
	log="$out/$(echo "$name" | tr '/' '_').log"
	start=$(date +%s)
	timeout 300 "$@" </dev/null >"$log" 2>&1
	rc=$?
	p=$(grep -c '^ok - ' "$log")
	f=$(grep -c '^FAIL - ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "FAIL - $name exited $rc" >>"$log"
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "FAIL - $name checked nothing" >>"$log"
	fi
	pass=$((pass + p))
	fail=$((fail + f))
	printf '[%s] %-40s %4d passed %3d failed  %3ss\n' "$label" "$name" "$p" "$f" $(($(date +%s) - start))
	grep '^FAIL - ' "$log" | sed 's/^/    /'
	[ "$f" -gt 0 ] && tail -n 15 "$log" | sed 's/^/    | /'
}

for t in "$unitdir"/test_*; do
	[ -x "$t" ] || continue
	case "$t" in *"$pattern"*) ;; *) continue ;; esac
	run_one "unit/$(basename "$t")" "$t"
done
for t in tests/e2e/*.sh tests/e2e/*.py; do
	[ -f "$t" ] || continue
	case "$t" in *"$pattern"*) ;; *) continue ;; esac
	case "$t" in
	*.py) run_one "$t" python3 "$t" ;;
	*) run_one "$t" sh "$t" ;;
	esac
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
