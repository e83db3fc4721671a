#!/bin/sh
# curl as a POP3 client against `mailnook serve` on loopback: LIST, RETR by number
# byte for byte (CRLF, dot-stuffed lines undone by curl), UIDL and DELE through -X,
# a wrong password refused.
. "$(dirname "$0")/../lib.sh"

add_user alice secret
make_msg 1 "curl one" | deliver_msg alice
printf 'Subject: curl dots\n\n.\n..two\n.three\nend\n' | deliver_msg alice
start_serve
URL="pop3://127.0.0.1:$POP3_PORT"

list=$(curl -s --max-time 10 -u alice:secret "$URL/" | tr -d '\r')
check "curl LIST shows two messages" [ "$(echo "$list" | wc -l)" -eq 2 ]
size2=$(echo "$list" | sed -n 's/^2 //p')

curl -s --max-time 10 -u alice:secret "$URL/2" >"$T/got2"
printf 'Subject: curl dots\r\n\r\n.\r\n..two\r\n.three\r\nend\r\n' >"$T/want2"
check "curl RETR 2 is byte-exact with dot lines" cmp -s "$T/got2" "$T/want2"
check "LIST size equals the bytes curl got" [ "$(wc -c <"$T/got2")" -eq "$size2" ]

curl -s --max-time 10 -u alice:secret "$URL/1" | tr -d '\r' >"$T/got1"
make_msg 1 "curl one" >"$T/want1"
check "curl RETR 1 is the delivered message" cmp -s "$T/got1" "$T/want1"

uidl=$(curl -s --max-time 10 -u alice:secret -X UIDL "$URL/" | tr -d '\r')
check "curl -X UIDL lists two 16-hex-digit UIDLs" \
    [ "$(echo "$uidl" | grep -cE '^[12] [0-9a-f]{16}$')" -eq 2 ]

curl -s --max-time 10 -u alice:secret -X 'DELE 1' -I "$URL/" >/dev/null
list=$(curl -s --max-time 10 -u alice:secret "$URL/" | tr -d '\r')
check "curl -X DELE 1 then QUIT removed message 1" [ "$list" = "1 $size2" ]

curl -s --max-time 10 -u alice:wrong "$URL/" >/dev/null 2>&1
rc=$?
check "curl with a wrong password fails (login denied, exit $rc)" [ "$rc" -eq 67 ]
check "serve logged the failed login" grep -q 'login failed user=alice from 127.0.0.1' "$T/serve.log"
