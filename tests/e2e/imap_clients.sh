#!/bin/sh
# Real IMAP clients against `mailnook serve` on loopback: curl imap:// and imaps://
# (LIST, FETCH byte-exact, SEARCH, STARTTLS), fetchmail over IMAP (keep, then delete,
# then IDLE, with mailnook deliver as the MDA) and mutt driven by pushed keys, copying a message.
. "$(dirname "$0")/../lib.sh"

add_user alice secret
add_user bob other
for i in 1 2 3; do make_msg "$i" "imap client $i" 5 | deliver_msg alice; done
printf 'Subject: dots\n\n.\n..two\nFrom here\nend\n' | deliver_msg alice

"$MAILNOOK" -c "$CONF" cert --cert "$T/ec.crt" --key "$T/ec.key" localhost 127.0.0.1 \
    >/dev/null
IMAP_PORT=$(free_port)
IMAPS_PORT=$(free_port)
start_serve -o "tls_cert=$T/ec.crt" -o "tls_key=$T/ec.key" \
    -o "listen=127.0.0.1:$IMAP_PORT imap" -o "listen=127.0.0.1:$IMAPS_PORT imap tls"
wait_port "$IMAP_PORT" && wait_port "$IMAPS_PORT" || fail "IMAP listeners up"
URL="imap://127.0.0.1:$IMAP_PORT"
CURL="curl -s --max-time 10"

# --- curl ---
list=$($CURL -u alice:secret "$URL/" | tr -d '\r')
check "curl LIST shows INBOX and Sent" sh -c "echo '$list' | grep -q ' INBOX\$' && echo '$list' | grep -q ' Sent\$'"
$CURL -u alice:secret "$URL/INBOX;UID=4" >"$T/got4"
printf 'Subject: dots\r\n\r\n.\r\n..two\r\nFrom here\r\nend\r\n' >"$T/want4"
check "curl FETCH by UID is byte-exact (dots and a From line)" cmp -s "$T/got4" "$T/want4"
$CURL -u alice:secret "$URL/INBOX;UID=1" | tr -d '\r' >"$T/got1"
make_msg 1 "imap client 1" 5 >"$T/want1"
check "curl FETCH UID 1 is the delivered message" cmp -s "$T/got1" "$T/want1"
found=$($CURL -u alice:secret "$URL/INBOX?SUBJECT%20%22client%202%22" | tr -d '\r')
check "curl SEARCH SUBJECT finds message 2 ($found)" [ "$found" = "* SEARCH 2" ]
$CURL --insecure -u alice:secret "imaps://127.0.0.1:$IMAPS_PORT/INBOX;UID=4" >"$T/tls4"
check "curl imaps:// (port 993 style) FETCH" cmp -s "$T/tls4" "$T/want4"
$CURL --insecure --ssl-reqd -u alice:secret "$URL/INBOX;UID=4" >"$T/stls4"
check "curl STARTTLS FETCH" cmp -s "$T/stls4" "$T/want4"
$CURL -u alice:wrong "$URL/" >/dev/null 2>&1
rc=$?
check "curl with a wrong password fails (exit $rc)" [ "$rc" -eq 67 ]

# --- python imaplib over STARTTLS and implicit TLS; plaintext pipelined after STARTTLS ---
python3 - "$IMAP_PORT" "$IMAPS_PORT" >"$T/pytls.log" 2>&1 <<'PY'
import imaplib, socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
c = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
assert "STARTTLS" in c.capabilities
c.starttls(ssl_context=ctx)
typ, data = c.capability()
assert b"STARTTLS" not in data[0], data
c.login("alice", "secret")
assert c.select("INBOX")[0] == "OK"
c.logout()
c = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[2]), ssl_context=ctx)
c.login("alice", "secret")
c.select("INBOX")
typ, data = c.fetch("1", "(RFC822.SIZE)")
assert typ == "OK", data
c.logout()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
f.readline()
s.sendall(b"a STARTTLS\r\nb LOGIN alice secret\r\n")
got = f.readline()
assert got.startswith(b"* BYE"), got
print("all good")
PY
check "imaplib STARTTLS, IMAP4_SSL; commands pipelined after STARTTLS end the session" \
    grep -q 'all good' "$T/pytls.log"

# --- mutt in batch mode: count, then copy message 1 to a folder ---
export HOME=$T
cat >"$T/muttrc" <<RC
set folder="imap://alice:secret@127.0.0.1:$IMAP_PORT/"
set spoolfile="+INBOX"
set ssl_starttls=no
set ssl_force_tls=no
set imap_passive=no
set confirmappend=no
set confirmcreate=no
set mail_check=0
set header_cache=""
set message_cachedir=""
RC
# mutt wants a terminal: script(1) gives it one
TERM=xterm timeout 30 script -qec "mutt -F $T/muttrc -f imap://alice:secret@127.0.0.1:$IMAP_PORT/INBOX -e 'push \"<copy-message>=Archive<enter><quit>\"'" \
    /dev/null </dev/null >"$T/mutt.log" 2>&1
n=$(printf 'a LOGIN alice secret\r\nb STATUS Archive (MESSAGES)\r\nc LOGOUT\r\n' |
    "$MAILNOOK" -c "$CONF" -o plaintext_auth=anywhere imap 2>/dev/null | tr -d '\r' |
    sed -n 's/^\* STATUS Archive (MESSAGES \([0-9]*\))$/\1/p')
check "mutt copied a message into Archive ($n)" [ "${n:-0}" -eq 1 ]

# --- fetchmail over IMAP: keep, then fetch-all and delete into bob ---
fetchmail_rc "protocol imap port $IMAP_PORT" "keep fetchall"
fetchmail_run
check "fetchmail keep: bob got 4 messages" [ "$(grep -c '^From ' "$MAIL/bob/INBOX")" -eq 4 ]
fetchmail_rc "protocol imap port $IMAP_PORT" "nokeep fetchall"
fetchmail_run
check "fetchmail delete: bob has 8" [ "$(grep -c '^From ' "$MAIL/bob/INBOX")" -eq 8 ]
left=$(printf 'a LOGIN alice secret\r\nb STATUS INBOX (MESSAGES)\r\nc LOGOUT\r\n' |
    "$MAILNOOK" -c "$CONF" -o plaintext_auth=anywhere imap 2>/dev/null | tr -d '\r' |
    sed -n 's/^\* STATUS INBOX (MESSAGES \([0-9]*\))$/\1/p')
check "fetchmail delete expunged alice's INBOX ($left)" [ "${left:-x}" = 0 ]

# --- fetchmail in IDLE mode: mail delivered while it waits arrives at once ---
fetchmail_rc "protocol imap port $IMAP_PORT" "nokeep fetchall idle"
timeout 60 fetchmail -v -f "$T/fetchmailrc" --nodetach --nosyslog --idfile "$T/fetchids" \
    --pidfile "$T/fetchmail.pid" --mda "$MAILNOOK -c $CONF deliver -f %F bob" \
    >"$T/fetchmail-idle.log" 2>&1 &
FM_PID=$!
PIDS="$PIDS $FM_PID"
sleep 1
make_msg 20 "pushed by idle" 2 | deliver_msg alice
n=0
while [ "$n" -lt 100 ] && ! grep -q 'Subject: pushed by idle' "$MAIL/bob/INBOX"; do
	sleep 0.1
	n=$((n + 1))
done
check "fetchmail idle: a new message arrived within 10 s" grep -q 'Subject: pushed by idle' "$MAIL/bob/INBOX"
check "fetchmail idle: it waited in IDLE" grep -q 'IMAP> A[0-9]* IDLE' "$T/fetchmail-idle.log"
kill "$FM_PID" 2>/dev/null
wait "$FM_PID" 2>/dev/null
