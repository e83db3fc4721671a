#!/bin/sh
# check verb: consistent folder (exit 0), damaged index found (exit 1) and repaired from
# the mbox by --repair keeping its uidvalidity, torn change record, PATH form, 75 while a
# session holds the folder or a compaction runs under open sessions.
. "$(dirname "$0")/../lib.sh"

add_user alice secret
i=1
while [ "$i" -le 5 ]; do
	make_msg "$i" "check $i" 20 | deliver_msg alice || fail "deliver $i"
	i=$((i + 1))
done
SIDE=$MAIL/alice/.mailnook/INBOX
run_check() {
	"$MAILNOOK" -c "$CONF" check "$@" >"$T/out" 2>"$T/err"
	echo $? >"$T/rc"
}
rc() { cat "$T/rc"; }
has() { grep -q "$1" "$T/out"; }

run_check alice
check "first check indexes the folder" [ "$(rc)" -eq 0 ]
check "five messages found" has '^messages: 5 '
check "index file written" [ -s "$SIDE.idx" ]
uv=$(sed -n 's/^uidvalidity: //p' "$T/out" | tail -n 1)
run_check alice
check "second check: consistent, exit 0" [ "$(rc)" -eq 0 ]
check "second check says consistent" has '^result: consistent'

run_check "$MAIL/alice/INBOX"
check "PATH form uses the folder's side files" has "side files: $SIDE"
check "PATH form consistent" [ "$(rc)" -eq 0 ]

# One flipped byte in a base record (header 128 bytes, record 2 starts at 192).
printf '\377' | dd of="$SIDE.idx" bs=1 seek=200 conv=notrunc 2>/dev/null
run_check alice
check "damaged record: exit 1" [ "$(rc)" -eq 1 ]
check "damaged record reported" has '^problem: index damaged: records salvaged, identity kept'
# hold_ses / free_ses: a session's shared lock on .ses, taken for sure when hold_ses returns
mkfifo "$T/held" "$T/go"
hold_ses() {
	flock -s "$SIDE.ses" sh -c 'echo held >"$1"; read x <"$2"' sh "$T/held" "$T/go" &
	read x <"$T/held"
}
free_ses() {
	echo go >"$T/go"
	wait
}
hold_ses
run_check --repair alice
check "repair while a session is open: exit 75" [ "$(rc)" -eq 75 ]
free_ses
run_check --repair alice
check "repair: exit 1 (problems were found)" [ "$(rc)" -eq 1 ]
check "repair rebuilt all five messages" has '^rebuilt: 5 messages'
nuv=$(sed -n 's/^rebuilt: .*uidvalidity //p' "$T/out")
check "rebuilt index keeps its uidvalidity" [ -n "$nuv" -a "$nuv" = "$uv" ]
run_check alice
check "after repair: consistent" [ "$(rc)" -eq 0 ]

# A torn change record at the end (a power cut mid-write).
printf '\002\000\030\000torn' >>"$SIDE.idx"
run_check alice
check "torn tail: exit 1" [ "$(rc)" -eq 1 ]
check "torn tail reported" has 'torn change record'
run_check --repair alice
run_check alice
check "torn tail repaired" [ "$(rc)" -eq 0 ]

hold_ses
run_check --compact alice
check "compact while a session is open (not reading): runs, exit 0" [ "$(rc)" -eq 0 ]
free_ses
run_check --compact alice
check "compact with nothing expunged: exit 0" [ "$(rc)" -eq 0 ]

# A compaction running while other sessions have the folder open: its journal is there,
# .ses is only shared, and the compactor holds the state lock and the mbox write lock.
printf 'x' >"$SIDE.jnl"
python3 - "$SIDE.idx" "$MAIL/alice/INBOX" "$SIDE.ses" "$T/locked" "$T/release" <<'PY' &
import fcntl, os, sys, time
idx, mbox, ses, locked, release = sys.argv[1:]
fs = open(ses, "r+b")
fcntl.flock(fs, fcntl.LOCK_SH)
fi = open(idx, "r+b")
fcntl.lockf(fi, fcntl.LOCK_EX)
fm = open(mbox, "r+b")
fcntl.lockf(fm, fcntl.LOCK_EX)
open(locked, "w").close()
end = time.time() + 10
while not os.path.exists(release) and time.time() < end:
	time.sleep(0.05)
PY
n=0
while [ ! -e "$T/locked" ] && [ "$n" -lt 100 ]; do
	sleep 0.05
	n=$((n + 1))
done
run_check alice
touch "$T/release"
wait
rm -f "$SIDE.jnl"
check "compaction running under open sessions: exit 75" [ "$(rc)" -eq 75 ]
check "compaction running under open sessions: reported in progress" \
	has '^compaction in progress'
check "compaction running under open sessions: not taken as interrupted" \
	sh -c "! grep -q 'interrupted compaction' '$T/out'"

run_check nosuchuser
check "unknown user's missing INBOX: exit 1" [ "$(rc)" -eq 1 ]
"$MAILNOOK" -c "$CONF" check --bogus alice >/dev/null 2>&1
check "bad option: exit 64" [ $? -eq 64 ]
