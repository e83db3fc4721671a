# Launch under tcpsvd (ipsvd): full POP3 login, STAT, RETR, QUIT; tcpsvd and the session
# log the client address.
. "$(dirname "$0")/../lib.sh"

command -v tcpsvd >/dev/null || { fail "tcpsvd is not installed (tests/deps.sh installs ipsvd)"; exit 1; }

add_user bob secret
make_msg 1 "via tcpsvd" | deliver_msg bob
PORT=$(free_port)
tcpsvd -v 127.0.0.1 "$PORT" "$MAILNOOK" -c "$CONF" pop3 >"$T/tcpsvd.log" 2>&1 &
PIDS="$PIDS $!"
wait_port "$PORT" || { fail "tcpsvd did not listen"; cat "$T/tcpsvd.log"; exit 1; }

out=$(pop3_fetch "$PORT" bob secret)
case "$out" in
"stat 1 "*"Subject: via tcpsvd"*) ok "login, STAT, RETR, QUIT through tcpsvd" ;;
*) fail "login, STAT, RETR, QUIT through tcpsvd: $out" ;;
esac
sleep 0.2
check "tcpsvd logged the connection" grep -q "tcpsvd: info: pid [0-9]* from 127.0.0.1" "$T/tcpsvd.log"
check "session logged the client address" grep -q "mailnook\[[0-9]*\]: connect from 127.0.0.1" "$T/tcpsvd.log"
check "login logged" grep -q "login user=bob from 127.0.0.1" "$T/tcpsvd.log"
check "logout logged with counts" grep -q "logout user=bob retr=1 dele=0" "$T/tcpsvd.log"

# The same super-server line with the imap verb.
IPORT=$(free_port)
tcpsvd -v 127.0.0.1 "$IPORT" "$MAILNOOK" -c "$CONF" imap >"$T/tcpsvd-imap.log" 2>&1 &
PIDS="$PIDS $!"
wait_port "$IPORT" || { fail "tcpsvd (imap) did not listen"; cat "$T/tcpsvd-imap.log"; exit 1; }
out=$(python3 - "$IPORT" <<'PY'
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("bob", "secret")
typ, data = m.select("INBOX", readonly=True)
print("select", typ, data[0].decode())
typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
print(data[0][1].decode().strip())
m.logout()
PY
)
case "$out" in
"select OK 1"*"Subject: via tcpsvd"*) ok "IMAP login, SELECT, FETCH, LOGOUT through tcpsvd" ;;
*) fail "IMAP login, SELECT, FETCH, LOGOUT through tcpsvd: $out" ;;
esac
