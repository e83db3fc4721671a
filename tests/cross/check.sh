#!/bin/sh
# Build cross profiles and run the tests against each binary under qemu-user with the
# profile's CPU:   tests/cross/check.sh [-s] PROFILE...   (board/PROFILE.mk)
# -s: the smoke set (below) instead of the whole end-to-end suite. Tests see MAILNOOK_EMULATOR (the qemu command) and adapt what
# would measure qemu instead of mailnook. Ends with "N passed, N failed" like tests/run.sh.
set -u
cd "$(dirname "$0")/../.." || exit 1
top=$(pwd)
smoke=0
if [ "${1:-}" = -s ]; then
	smoke=1
	shift
fi
# What runs: tests/run.sh patterns (substrings of test file names). The smoke set: unit
# tests, every verb (deliver and check in e2e/check.sh, passwd, cert), TLS, POP3 and IMAP
# sessions, SIGTERM and SIGHUP. Otherwise every unit and e2e test but the launch_* ones,
# which test the system's inetd, systemd and procd glue.
if [ "$smoke" = 1 ]; then
	tests="test_ e2e/check.sh auth_passwd tls_pop3 imap_imaplib serve_signals"
else
	tests="test_"
	for t in tests/e2e/*.sh tests/e2e/*.py; do
		case "$t" in */launch_*) ;; *) tests="$tests ${t#tests/e2e/}" ;; esac
	done
fi

crosses=""
for p in "$@"; do
	crosses="$crosses $(make -s --no-print-directory BOARD="$p" print-CROSS)"
done
# shellcheck disable=SC2086 # one prefix per word
tests/cross/deps.sh $crosses || { echo "0 passed, 1 failed"; exit 1; }

pass=0
fail=0
add() {
	last=$(tail -n 1 "$1")
	np=$(printf '%s\n' "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
	nf=$(printf '%s\n' "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
	[ -z "$np" ] && { np=0; nf=1; }
	pass=$((pass + np))
	fail=$((fail + nf))
}
for p in "$@"; do
	start=$(date +%s)
	log=build/cross/$p/build.log
	mkdir -p "build/cross/$p"
	if ! { make -s BOARD="$p" sysroot && make -s BOARD="$p" mailnook unit; } >"$log" 2>&1; then
		grep -v 'uses -mhard-float' "$log" | tail -n 20
		echo "FAIL - $p: build"
		fail=$((fail + 1))
		continue
	fi
	grep '^size:' "$log"
	qarch=$(make -s --no-print-directory BOARD="$p" print-QEMU_ARCH)
	qcpu=$(make -s --no-print-directory BOARD="$p" print-QEMU_CPU)
	static=$(make -s --no-print-directory BOARD="$p" print-STATIC)
	sysroot=$(make -s --no-print-directory BOARD="$p" print-SYSROOT)
	# Run every binary of the profile through qemu: the wrapper keeps argv[0] (verbs are
	# also picked by program name) and gives a dynamic binary its musl.
	emu=""
	if [ -n "$qarch" ]; then
		emu="qemu-$qarch-static -cpu $qcpu"
		[ "$static" = 1 ] || emu="$emu -L $sysroot"
	fi
	wrap=$top/build/cross/$p/bin
	rm -rf "$wrap"
	mkdir -p "$wrap/unit" "$wrap/replay"
	for b in "$top/build/$p/mailnook" "$top/build/$p/unit/"test_* "$top/build/$p/replay/"fuzz_*; do
		case "$b" in
		*/mailnook) w=$wrap/mailnook ;;
		*/replay/*) w=$wrap/replay/$(basename "$b") ;;
		*) w=$wrap/unit/$(basename "$b") ;;
		esac
		printf '#!/bin/sh\nexec %s %s "%s" "$@"\n' "$emu" "${emu:+-0 \"\$0\"}" "$b" >"$w"
		chmod +x "$w"
	done
	echo "[$p] ${emu:-native}"
	export MAILNOOK_EMULATOR="$emu"
	for pat in $tests; do
		tests/run.sh "$wrap/mailnook" "$wrap/unit" "cross-$p/$(echo "$pat" | tr / _)" "$pat" >"build/cross/$p/run.log"
		grep -v 'passed, .* failed$' "build/cross/$p/run.log"
		add "build/cross/$p/run.log"
	done
	# The OpenWrt package, built by its own recipes with this profile's musl.
	if [ "$p" = mipsel_24kc ]; then
		tests/cross/package.sh >"build/cross/$p/package.log" 2>&1
		grep -v 'passed, .* failed$' "build/cross/$p/package.log"
		add "build/cross/$p/package.log"
	fi
	echo "[$p] $(($(date +%s) - start))s"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
