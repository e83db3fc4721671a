# deliver, the MDA: exit codes an MTA acts on (0/64/65/67/75), the From_ line of
# `-f SENDER`, CRLF input stored as LF, locks held by other processes, 20 concurrent
# deliveries, and deliver killed with -9 at many points of a large message from a
# slow pipe: earlier mail intact, nothing partial left after the next delivery.
. "$(dirname "$0")/../lib.sh"

add_user alice secret
add_user bob secret
BOX=$MAIL/alice/INBOX

# mbox_msgs FILE: messages, one per line as "sender|subject|intact|lines", checking
# that each body is exactly what make_msg produced (lines "line I of message N").
mbox_msgs() {
	python3 - "$1" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read().decode("latin-1")
frm = re.compile(r"^From (\S+) \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$")
msgs, cur = [], None
lines = data.split("\n")
if lines and lines[-1] == "":
    lines.pop()
for i, l in enumerate(lines):
    if frm.match(l) and (i == 0 or lines[i - 1] == ""):
        if cur is not None and cur["lines"] and cur["lines"][-1] == "":
            cur["lines"].pop()
        cur = {"sender": frm.match(l).group(1), "lines": []}
        msgs.append(cur)
    elif cur is None:
        print("garbage before first From_ line")
        sys.exit(1)
    else:
        cur["lines"].append(l)
if cur is not None and cur["lines"] and cur["lines"][-1] == "":
    cur["lines"].pop()
for m in msgs:
    subj = next((l[9:] for l in m["lines"] if l.startswith("Subject: ")), "?")
    n = next((l[12:].split("@")[0] for l in m["lines"] if l.startswith("From: sender")), "?")
    body = m["lines"][m["lines"].index("") + 1:] if "" in m["lines"] else []
    good = all(l == "line %d of message %s" % (i, n) for i, l in enumerate(body))
    print("%s|%s|%s|%d" % (m["sender"], subj, "intact" if good and body else "BROKEN", len(body)))
PY
}

# --- exit codes and the stored form ---
make_msg 1 "first" | deliver_msg alice bob@example.org
check "deliver exits 0" [ $? -eq 0 ]
check "INBOX created 0600" [ "$(stat -c %a "$BOX")" = 600 ]
check "user dir created 0700" [ "$(stat -c %a "$MAIL/alice")" = 700 ]
check "From_ line has the -f sender and an asctime date" \
    grep -Eq '^From bob@example.org (Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}$' "$BOX"

make_msg 2 "crlf" | sed 's/$/\r/' | deliver_msg alice '<a b@example.org>'
check "CRLF message delivered" [ $? -eq 0 ]
check "CRLF input stored with LF only" \
    sh -c "grep -q '^Subject: crlf\$' '$BOX' && ! grep -q \"$(printf '\r')\" '$BOX'"
check "sender sanitised in the From_ line" grep -q '^From a_b@example.org ' "$BOX"
printf 'Subject: q\n\nFrom the start\n>From quoted\n' | deliver_msg alice
check "no -f gives MAILER-DAEMON" grep -q '^From MAILER-DAEMON ' "$BOX"
make_msg 9 "bounce" | deliver_msg bob ''
check "empty -f (fetchmail %F of a bounce) gives MAILER-DAEMON" \
    grep -q '^From MAILER-DAEMON ' "$MAIL/bob/INBOX"
rm -f "$MAIL/bob/INBOX"
check "body From lines quoted mboxrd" sh -c "grep -qx '>From the start' '$BOX' && grep -qx '>>From quoted' '$BOX'"

deliver_msg alice </dev/null 2>"$T/err"
check "empty message exits 65" [ $? -eq 65 ]
printf '\r\n\n' | deliver_msg alice 2>/dev/null
check "blank-lines-only message exits 65" [ $? -eq 65 ]
make_msg 3 x | deliver_msg nosuchuser 2>"$T/err"
check "unknown user exits 67" [ $? -eq 67 ]
check "unknown user gives a reason on stderr" grep -q "no such user" "$T/err"
make_msg 3 x | "$MAILNOOK" -c "$CONF" -o "passwd_file=$T/missing" deliver alice 2>/dev/null
check "unreadable passwd file exits 75" [ $? -eq 75 ]
make_msg 3 x | "$MAILNOOK" -c "$CONF" deliver 2>/dev/null
check "missing user argument exits 64" [ $? -eq 64 ]
make_msg 3 x | "$MAILNOOK" -c "$CONF" deliver -x alice 2>/dev/null
check "unknown option exits 64" [ $? -eq 64 ]
make_msg 3 big 4000 | "$MAILNOOK" -c "$CONF" -o max_message=10K deliver alice 2>/dev/null
check "message over max_message exits 65" [ $? -eq 65 ]
size=$(stat -c %s "$BOX")
make_msg 3 over 4000 | "$MAILNOOK" -c "$CONF" -o quota=$((size + 2000)) deliver alice 2>/dev/null
check "over quota exits 75" [ $? -eq 75 ]
check "refused messages leave the INBOX as it was" [ "$(stat -c %s "$BOX")" -eq "$size" ]
# Quota counts every folder under the user's directory, not the side files.
mkdir -p "$MAIL/alice/Club" "$MAIL/alice/.mailnook"
head -c 5000 /dev/zero >"$MAIL/alice/Club/Q1"
head -c 100000 /dev/zero >"$MAIL/alice/.mailnook/side"
make_msg 3 small 1 | "$MAILNOOK" -c "$CONF" -o quota=$((size + 5100)) deliver alice 2>/dev/null
check "quota counts other folders" [ $? -eq 75 ]
make_msg 3 small 1 | "$MAILNOOK" -c "$CONF" -o quota=$((size + 6000)) deliver alice 2>/dev/null
check "quota ignores side files: delivered under quota" [ $? -eq 0 ]
rm -rf "$MAIL/alice/Club" "$MAIL/alice/.mailnook"
check "INBOX holds the 4 accepted messages" [ "$(mbox_msgs "$BOX" | wc -l)" -eq 4 ]
check "... the 3 generated ones intact" [ "$(mbox_msgs "$BOX" | grep -c '|intact|')" -eq 3 ]

# --- locks held by others: 75 after lock_timeout, stale dotlocks cleared ---
python3 - "$BOX" >"$T/holder.out" 2>&1 <<'PY' &
import fcntl, sys, time
f = open(sys.argv[1], "r+")
fcntl.lockf(f, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(30)
PY
HOLDER=$!
PIDS="$PIDS $HOLDER"
i=0
while ! grep -q locked "$T/holder.out" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
t0=$(date +%s)
make_msg 4 x | "$MAILNOOK" -c "$CONF" -o lock_timeout=1 deliver alice 2>"$T/err"
rc=$?
check "fcntl lock held elsewhere: exit 75" [ $rc -eq 75 ]
check "... within the lock timeout" [ $(($(date +%s) - t0)) -le 3 ]
check "... with a reason on stderr" grep -q "locked" "$T/err"
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null

sleep 60 &
SLEEPER=$!
PIDS="$PIDS $SLEEPER"
printf '%s 0 %s\n' "$SLEEPER" "$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo -)" >"$BOX.lock"
make_msg 4 x | "$MAILNOOK" -c "$CONF" -o lock_timeout=1 deliver alice 2>/dev/null
check "dotlock of a live process: exit 75" [ $? -eq 75 ]
check "... and its dotlock left alone" [ -f "$BOX.lock" ]
kill "$SLEEPER"
wait "$SLEEPER" 2>/dev/null
size=$(stat -c %s "$BOX")
printf '%s %s %s\n' "$SLEEPER" "$size" "$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo -)" >"$BOX.lock"
make_msg 4 "after stale" | "$MAILNOOK" -c "$CONF" -o lock_timeout=5 deliver alice 2>/dev/null
check "dotlock of a dead process is stale: exit 0" [ $? -eq 0 ]
check "... and removed" [ ! -e "$BOX.lock" ]
check "... and the message is there" grep -q "^Subject: after stale$" "$BOX"

# A sender that is slow to finish a small message must not hold the lock meanwhile.
(make_msg 5 "slow small"; sleep 2) | deliver_msg alice 2>/dev/null &
SLOW=$!
sleep 0.3
make_msg 6 "while slow" | "$MAILNOOK" -c "$CONF" -o lock_timeout=1 deliver alice 2>/dev/null
check "deliver goes through while a slow sender is still sending" [ $? -eq 0 ]
wait "$SLOW"
check "... and the slow one is delivered after it" [ $? -eq 0 ]
check "... in that order" [ "$(mbox_msgs "$BOX" | tail -n 2 | cut -d'|' -f2 | tr '\n' ,)" = "while slow,slow small," ]

# --- 20 concurrent deliveries ---
before=$(mbox_msgs "$BOX" | wc -l)
i=0
while [ $i -lt 20 ]; do
	(make_msg "c$i" "concurrent $i" 50 | deliver_msg bob "s$i@example.org" 2>>"$T/conc.err"; echo $? >"$T/conc.$i") &
	i=$((i + 1))
done
wait
ok_count=$(cat "$T"/conc.* | grep -c '^0$')
check "20 concurrent delivers all exit 0 (got $ok_count)" [ "$ok_count" -eq 20 ]
mbox_msgs "$MAIL/bob/INBOX" >"$T/bob.list"
check "20 messages in bob's INBOX" [ "$(wc -l <"$T/bob.list")" -eq 20 ]
check "all 20 intact" [ "$(grep -c '|intact|50$' "$T/bob.list")" -eq 20 ]
check "20 distinct senders and subjects" [ "$(cut -d'|' -f1,2 "$T/bob.list" | sort -u | wc -l)" -eq 20 ]
check "no dotlock left behind" [ ! -e "$MAIL/bob/INBOX.lock" ]

# --- kill -9 while writing a large message from a slow pipe ---
# slow_big N: a 1 MB message in 32 KB pieces, 25 ms apart (about 0.9 s)
slow_big() {
	python3 -c '
import sys, time
n = sys.argv[1]
out = sys.stdout.buffer
out.write(b"From: sender%s@example.org\nSubject: big %s\n\n" % (n.encode(), n.encode()))
lines = b"".join(b"line %d of message %s\n" % (i, n.encode()) for i in range(40000))
for i in range(0, len(lines), 32768):
    out.write(lines[i:i + 32768])
    out.flush()
    time.sleep(0.025)
' "$1"
}
good=0
partial_seen=0
k=0
for delay in 0 0.02 0.05 0.1 0.2 0.35 0.5 0.7; do
	k=$((k + 1))
	cp "$BOX" "$T/snap"
	snap=$(stat -c %s "$T/snap")
	slow_big "k$k" 2>/dev/null | "$MAILNOOK" -c "$CONF" deliver alice 2>/dev/null &
	victim=$!
	sleep "$delay"
	kill -9 "$victim" 2>/dev/null
	wait "$victim" 2>/dev/null
	vrc=$?
	# A deliver that finished before the kill accepted its message: it must stay.
	[ "$vrc" -eq 0 ] && expect="MAILER-DAEMON|big k$k|intact|40000
MAILER-DAEMON|next $k|intact|3" || expect="MAILER-DAEMON|next $k|intact|3"
	[ "$(stat -c %s "$BOX")" -gt "$snap" ] && partial_seen=$((partial_seen + 1))
	cmp -s -n "$snap" "$BOX" "$T/snap" || { fail "kill at ${delay}s: earlier mail altered"; continue; }
	make_msg "n$k" "next $k" | deliver_msg alice 2>/dev/null || { fail "deliver after kill at ${delay}s"; continue; }
	# What follows the snapshot must be exactly the one new message.
	tail -c +"$((snap + 1))" "$BOX" >"$T/rest"
	mbox_msgs "$T/rest" >"$T/rest.list"
	if [ "$(cat "$T/rest.list")" = "$expect" ] && cmp -s -n "$snap" "$BOX" "$T/snap"; then
		good=$((good + 1))
	else
		fail "kill at ${delay}s: after the next deliver: $(cat "$T/rest.list")"
	fi
done
check "8 kills: earlier mail intact and no partial message after the next deliver ($good/8)" [ "$good" -eq 8 ]
# Under an emulator its start-up takes the first part of the kill schedule: fewer kills can
# land mid-write, so one is all that is asked there.
min_partial=3
if [ -n "${MAILNOOK_EMULATOR:-}" ]; then
	min_partial=1
	echo "# emulated ($MAILNOOK_EMULATOR): at least 1 partial append asked, not 3"
fi
check "some kills did leave a partial append to undo ($partial_seen)" [ "$partial_seen" -ge "$min_partial" ]
check "whole INBOX still parses, only the quoted test message not generated" \
    [ "$(mbox_msgs "$BOX" | grep -vc '|intact|')" -eq 1 ]
slow_big whole | deliver_msg alice
check "a large message from a slow pipe is delivered whole" \
    [ "$(mbox_msgs "$BOX" | tail -n 1)" = "MAILER-DAEMON|big whole|intact|40000" ]

# --- a tool that ignores our dotlock appends after a killed deliver's partial message ---
# Rule 7 of lock.c: the next deliver must not cut that tool's message (nor earlier mail).
foreign_append() {
	python3 - "$BOX" <<'PY'
import fcntl, sys
with open(sys.argv[1], "ab") as f:
    fcntl.lockf(f, fcntl.LOCK_EX)
    body = b"".join(b"line %d of message F\n" % i for i in range(5))
    f.write(b"\n\nFrom foreign@example.org Sat Nov 28 12:00:00 2026\n"
            b"From: senderF@example.org\nSubject: foreign\n\n" + body + b"\n")
PY
}
cp "$BOX" "$T/snap"
snap=$(stat -c %s "$T/snap")
cut=0
for delay in 0.3 0.2 0.4 0.15 0.5; do
	slow_big cut 2>/dev/null | "$MAILNOOK" -c "$CONF" deliver alice 2>/dev/null &
	victim=$!
	sleep "$delay"
	kill -9 "$victim" 2>/dev/null
	wait "$victim" 2>/dev/null && { cp "$BOX" "$T/snap"; snap=$(stat -c %s "$BOX"); continue; }
	[ "$(stat -c %s "$BOX")" -gt "$snap" ] && [ -e "$BOX.lock" ] && { cut=1; break; }
done
check "a deliver killed mid-write left a partial message and its dotlock" [ "$cut" -eq 1 ]
foreign_append
make_msg after "after foreign" | deliver_msg alice
check "next deliver after a foreign append: exit 0" [ $? -eq 0 ]
check "... earlier mail intact" cmp -s -n "$snap" "$BOX" "$T/snap"
tail -c +"$((snap + 1))" "$BOX" >"$T/rest"
mbox_msgs "$T/rest" >"$T/rest.list"
check "... the foreign message kept whole, then ours" [ "$(tail -n 2 "$T/rest.list" | cut -d'|' -f2-)" = "foreign|intact|5
after foreign|intact|3" ]
check "... the partial message kept as a message" \
    [ "$(wc -l <"$T/rest.list")" -eq 3 ] && [ "$(head -n 1 "$T/rest.list" | cut -d'|' -f2,3)" = "big cut|BROKEN" ]
