#!/bin/sh
# mbsync (isync) two-way sync against `mailnook serve`: all folders pulled into a
# Maildir, local flag changes, deletions and new messages pushed, server-side new mail,
# flags and expunges pulled, and a second sync with nothing to do changes nothing.
. "$(dirname "$0")/../lib.sh"

add_user alice secret
for i in 1 2 3 4 5; do make_msg "$i" "sync $i" 4 | deliver_msg alice; done
IMAP_PORT=$(free_port)
start_serve -o "listen=127.0.0.1:$IMAP_PORT imap" -o plaintext_auth=anywhere
wait_port "$IMAP_PORT" || fail "IMAP listener up"
export HOME=$T
M=$T/maildir
mkdir -p "$M"
cat >"$T/mbsyncrc" <<RC
IMAPAccount mn
Host 127.0.0.1
Port $IMAP_PORT
User alice
Pass secret
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account mn

MaildirStore local
Path $M/
Inbox $M/INBOX
SubFolders Verbatim

Channel ch
Far :remote:
Near :local:
Patterns *
Create Both
Remove Both
Expunge Both
SyncState *
RC

sync() {
	timeout 60 mbsync -c "$T/mbsyncrc" -a >>"$T/mbsync.log" 2>&1
}
# imap_cmd COMMANDS...: one session as alice through the imap verb, replies on stdout
imap_cmd() {
	{
		printf 'a LOGIN alice secret\r\n'
		for c in "$@"; do printf '%s\r\n' "$c"; done
		printf 'z LOGOUT\r\n'
	} | "$MAILNOOK" -c "$CONF" -o plaintext_auth=anywhere imap 2>/dev/null | tr -d '\r'
}
count_local() {
	find "$M/$1/cur" "$M/$1/new" -type f 2>/dev/null | wc -l
}

sync
check "first sync succeeded" [ $? -eq 0 ]
check "INBOX pulled: 5 messages" [ "$(count_local INBOX)" -eq 5 ]
check "special-use folders created locally" test -d "$M/Sent/cur" -a -d "$M/Trash/cur"
f=$(grep -l 'Subject: sync 3' "$M"/INBOX/cur/* "$M"/INBOX/new/* 2>/dev/null | head -1)
check "message bodies arrived intact" grep -q 'line 3 of message 3' "$f"

# local changes: flag one seen+flagged, delete one, add one to Sent
f1=$(grep -l "Subject: sync 1" "$M"/INBOX/cur/* "$M"/INBOX/new/* 2>/dev/null | head -1)
mv "$f1" "$M/INBOX/cur/$(basename "$f1" | sed 's/:2,.*//'):2,FS"
f2=$(grep -l "Subject: sync 2" "$M"/INBOX/cur/* "$M"/INBOX/new/* 2>/dev/null | head -1)
mv "$f2" "$M/INBOX/cur/$(basename "$f2" | sed 's/:2,.*//'):2,T"
printf 'From: alice@test.example\nSubject: sent locally\n\nhello\n' >"$M/Sent/cur/1.local:2,S"
sync
out=$(imap_cmd 'b SELECT INBOX' 'c SEARCH FLAGGED SEEN' 'd SEARCH SUBJECT "sync 2"')
check "local flags pushed" sh -c "echo '$out' | grep -q '^\* SEARCH 1\$'"
check "local deletion expunged on the server" sh -c "echo '$out' | grep -q '^\* 4 EXISTS\$'"
out=$(imap_cmd 'b STATUS Sent (MESSAGES)')
check "local new message appended" sh -c "echo '$out' | grep -q 'MESSAGES 1)'"

# server changes: new mail, a flag, an expunge
make_msg 6 "sync 6" 2 | deliver_msg alice
imap_cmd 'b SELECT INBOX' 'c STORE 2 +FLAGS (\Answered)' 'd STORE 3 +FLAGS (\Deleted)' \
    'e EXPUNGE' >/dev/null
sync
check "server mail pulled, server expunge applied (4 local)" [ "$(count_local INBOX)" -eq 4 ]
check "server flag pulled" sh -c "ls '$M/INBOX/cur' | grep -q ':2,R'"

# nothing to do: the local tree and the server stay as they are
before=$(cd "$M" && find . -type f | sort | md5sum)
srv_before=$(imap_cmd 'b STATUS INBOX (MESSAGES UIDNEXT)' | grep STATUS)
grep -c 'append=[1-9]' "$T/serve.log" >"$T/appends_before"
sync
after=$(cd "$M" && find . -type f | sort | md5sum)
srv_after=$(imap_cmd 'b STATUS INBOX (MESSAGES UIDNEXT)' | grep STATUS)
check "second sync changed nothing locally" [ "$before" = "$after" ]
check "second sync changed nothing on the server" [ "$srv_before" = "$srv_after" ]
check "second sync appended nothing" [ "$(grep -c 'append=[1-9]' "$T/serve.log")" -eq "$(cat "$T/appends_before")" ]
if grep -q -i 'error' "$T/mbsync.log"; then
	fail "mbsync reported errors"
	cat "$T/mbsync.log"
fi
