#!/bin/sh
# make check replays every committed fuzz corpus (tests/fuzz/corpus_NAME/) through the
# replayer of its entry, built beside the binary under test (build/VARIANT/replay/NAME):
# the parsers, MIME, and whole IMAP and POP3 sessions over a store, each input within
# its CPU budget. A corpus without its replayer is a failure.
. "$(dirname "$0")/../lib.sh"

replay_dir=$(dirname "$MAILNOOK")/replay
found=0
for corpus in "$TESTS_DIR"/fuzz/corpus_*/; do
	name=$(basename "$corpus" | sed 's/^corpus_//')
	bin=$replay_dir/fuzz_$name
	n=$(ls "$corpus" | wc -l)
	found=$((found + 1))
	if [ ! -x "$bin" ]; then
		fail "replayer $bin for corpus_$name not built"
		continue
	fi
	out=$(cd "$T" && "$bin" "$corpus"* 2>"$T/err.$name")
	rc=$?
	check "corpus_$name: $n inputs replayed without a crash or CPU overrun ($out)" \
	    test "$rc" -eq 0 -a "$out" = "replayed $n inputs"
	[ "$rc" -eq 0 ] || tail -n 20 "$T/err.$name"
done
check "corpora found ($found)" test "$found" -ge 3
