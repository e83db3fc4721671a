#!/bin/sh
# fetchmail against `mailnook serve` on loopback: keep mode with UIDL (a second run
# fetches nothing), then delete mode with `mailnook deliver` as the MDA into a second
# user, whose INBOX then holds the messages and whose maildrop the first user no
# longer has.
. "$(dirname "$0")/../lib.sh"

add_user alice secret
add_user bob other
for i in 1 2 3; do
	make_msg "$i" "fetch $i" 20 | deliver_msg alice
done
printf 'Subject: fetch dots\n\n.\n..x\n' | deliver_msg alice
start_serve

# fetchmail wants a private rc file and a home for its lock and id files.
export HOME=$T
pop_stat() {
	python3 - "$POP3_PORT" <<'PY'
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
p.user("alice"); p.pass_("secret")
print(p.stat()[0]); p.quit()
PY
}

fetchmail_rc "protocol pop3 port $POP3_PORT uidl" "keep"
fetchmail_run
r1=$?
check "fetchmail keep mode fetched (exit $r1)" [ "$r1" -eq 0 ]
n=$(grep -c '^Subject: fetch' "$MAIL/bob/INBOX" 2>/dev/null)
check "bob's INBOX got the 4 messages through deliver" [ "$n" -eq 4 ]
check "keep mode left alice's 4 messages" [ "$(pop_stat)" -eq 4 ]
fetchmail_run
r2=$?
check "second keep run with UIDL fetches nothing (exit $r2: no mail)" [ "$r2" -eq 1 ]
check "bob still has 4 messages" [ "$(grep -c '^Subject: fetch' "$MAIL/bob/INBOX")" -eq 4 ]

make_msg 5 "fetch 5" | deliver_msg alice
fetchmail_run
check "the keep run fetches only the new message" \
    [ "$(grep -c '^Subject: fetch' "$MAIL/bob/INBOX")" -eq 5 ]

fetchmail_rc "protocol pop3 port $POP3_PORT uidl" "fetchall nokeep"
fetchmail_run
r3=$?
check "delete mode run (exit $r3)" [ "$r3" -eq 0 ]
check "alice's maildrop is empty after delete mode" [ "$(pop_stat)" -eq 0 ]
check "bob has every message twice (keep runs, then fetchall)" \
    [ "$(grep -c '^Subject: fetch' "$MAIL/bob/INBOX")" -eq 10 ]
check "dot-stuffed lines arrived unstuffed" grep -q '^\.\.x$' "$MAIL/bob/INBOX"
check "serve logged deletions" grep -q 'logout user=alice retr=5 dele=5' "$T/serve.log"
[ -n "${KEEP_T:-}" ] && cat "$T/fetchmail.log"
exit 0
