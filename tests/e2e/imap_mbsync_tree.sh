#!/bin/sh
# mbsync (isync) with nested folder trees: a two-way sync of a Maildir tree whose
# folders hold mail and subfolders (Archive/2025/Q1, Work/2026, INBOX/Receipts) exits 0
# and moves every message both ways; then two IMAP-to-IMAP migrations: from a second
# mailnook instance serving a store written by 0.1.0 (plain-directory parents) into a
# fresh account, and from the dual-use tree into a second instance.
. "$(dirname "$0")/../lib.sh"

add_user alice secret
add_user carol secret
add_user dave secret
for i in 1 2; do make_msg "$i" "inbox $i" 2 | deliver_msg alice; done

# a second instance with its own mail root: alice's store as 0.1.0 wrote it
OLD=$T/oldmail
mkdir -p "$OLD" "$T/run2"
cp -a "$TESTS_DIR/fixtures/store_v1/alice" "$OLD/alice"
[ "$(id -u)" -eq 0 ] && chown -R "$RUN_USER" "$OLD" "$T/run2"
CONF2=$T/mailnook2.conf
sed -e "s|^mail_root .*|mail_root $OLD|" -e "s|^runtime_dir .*|runtime_dir $T/run2|" \
    "$CONF" >"$CONF2"

IMAP_PORT=$(free_port)
start_serve -o "listen=127.0.0.1:$IMAP_PORT imap" -o plaintext_auth=anywhere
wait_port "$IMAP_PORT" || fail "IMAP listener up"
OLD_PORT=$(free_port)
"$MAILNOOK" -c "$CONF2" -o "listen=127.0.0.1:$OLD_PORT imap" -o plaintext_auth=anywhere \
    serve -f >"$T/serve2.log" 2>&1 &
PIDS="$PIDS $!"
wait_port "$OLD_PORT" || fail "second instance up"

export HOME=$T
M=$T/maildir
# imap_as CONF USER COMMANDS...: one session through the imap verb, replies on stdout
imap_as() {
	conf=$1
	user=$2
	shift 2
	{
		printf 'a LOGIN %s secret\r\n' "$user"
		for c in "$@"; do printf '%s\r\n' "$c"; done
		printf 'z LOGOUT\r\n'
	} | "$MAILNOOK" -c "$conf" -o plaintext_auth=anywhere imap 2>/dev/null | tr -d '\r'
}
# messages CONF USER FOLDER: the server's message count
messages() {
	imap_as "$1" "$2" "b STATUS \"$3\" (MESSAGES)" | sed -n 's/.*(MESSAGES \([0-9]*\)).*/\1/p'
}
count_local() {
	find "$M/$1/cur" "$M/$1/new" -maxdepth 1 -type f 2>/dev/null | wc -l
}
# local_msg FOLDER N SUBJECT: a new message in a local Maildir folder
local_msg() {
	mkdir -p "$M/$1/cur" "$M/$1/new" "$M/$1/tmp"
	make_msg "$2" "$3" 1 >"$M/$1/cur/$2.local:2,S"
}
# server_msg N SUBJECT FOLDER...: the same new message APPENDed to each folder as alice
server_msg() {
	make_msg "$1" "$2" 1 | sed 's/$/\r/' >"$T/msg"
	shift 2
	{
		printf 'a LOGIN alice secret\r\n'
		for f in "$@"; do
			printf 'b APPEND %s {%d+}\r\n' "$f" "$(wc -c <"$T/msg")"
			cat "$T/msg"
			printf '\r\n'
		done
		printf 'z LOGOUT\r\n'
	} | "$MAILNOOK" -c "$CONF" -o plaintext_auth=anywhere imap >/dev/null 2>&1
}
# account NAME PORT USER: an mbsync IMAP account and its store, both called NAME
account() {
	printf 'IMAPAccount %s\nHost 127.0.0.1\nPort %s\nUser %s\nPass secret\n' "$1" "$2" "$3"
	printf 'SSLType None\nAuthMechs LOGIN\n\nIMAPStore %s\nAccount %s\n\n' "$1" "$1"
}
# mbsync CHANNEL: one run, its exit status returned
sync() {
	timeout 120 mbsync -c "$T/mbsyncrc" "$1" >>"$T/mbsync.log" 2>&1
}

{
	account alice "$IMAP_PORT" alice
	account old "$OLD_PORT" alice
	account carol "$IMAP_PORT" carol
	account dave "$OLD_PORT" dave
	cat <<RC
MaildirStore local
Path $M/
Inbox $M/INBOX
SubFolders Verbatim

Channel tree
Far :alice:
Near :local:
Patterns *
Create Both
Remove None
Expunge Both
SyncState *

Channel migrate-in
Far :old:
Near :carol:
Patterns *
Create Near
Sync Pull
SyncState $T/state-in/

Channel migrate-out
Far :alice:
Near :dave:
Patterns *
Create Near
Sync Pull
SyncState $T/state-out/
RC
} >"$T/mbsyncrc"
mkdir -p "$T/state-in" "$T/state-out"

# --- two-way sync of a nested tree ---
imap_as "$CONF" alice 'b CREATE Archive/2025' >/dev/null
server_msg 3 "server archive" Archive Archive/2025
local_msg Archive 10 "local archive"
local_msg Archive/2025/Q1 11 "local q1"
local_msg Work/2026 12 "local work"
local_msg INBOX/Receipts 13 "local receipt"
local_msg INBOX 14 "local inbox"

sync tree
check "nested tree: first sync exits 0" [ $? -eq 0 ]
for fc in INBOX:3 INBOX/Receipts:1 Archive:2 Archive/2025:1 Archive/2025/Q1:1 Work/2026:1; do
	f=${fc%:*}
	n=${fc#*:}
	check "server $f has $n after the first sync" [ "$(messages "$CONF" alice "$f")" = "$n" ]
	check "local $f has $n after the first sync" [ "$(count_local "$f")" -eq "$n" ]
done
out=$(imap_as "$CONF" alice 'b LIST "" "Archive*"')
check "server Archive holds mail and children" sh -c "echo '$out' | grep -q '(\\\\HasChildren \\\\Archive) \"/\" Archive\$'"

# second round: new mail on both sides, deep in the tree
local_msg Archive/2025/Q1 20 "local q1 second"
local_msg Work/2026 21 "local work second"
server_msg 22 "server receipt" INBOX/Receipts Archive
sync tree
check "nested tree: second sync exits 0" [ $? -eq 0 ]
for fc in INBOX/Receipts:2 Archive:3 Archive/2025/Q1:2 Work/2026:2; do
	f=${fc%:*}
	n=${fc#*:}
	check "server $f has $n after the second sync" [ "$(messages "$CONF" alice "$f")" = "$n" ]
	check "local $f has $n after the second sync" [ "$(count_local "$f")" -eq "$n" ]
done
before=$(cd "$M" && find . -type f | sort | md5sum)
sync tree
check "nested tree: third sync exits 0" [ $? -eq 0 ]
check "third sync changed nothing locally" [ "$before" = "$(cd "$M" && find . -type f | sort | md5sum)" ]

# --- migration from a 0.1.0 store on the second instance ---
sync migrate-in
check "migration from a 0.1.0 store exits 0" [ $? -eq 0 ]
for fc in INBOX:2 Archive:1 Club/Q1:2 Work/Projects/2026:1; do
	f=${fc%:*}
	n=${fc#*:}
	check "migrated $f: $n messages" [ "$(messages "$CONF" carol "$f")" = "$n" ]
done
out=$(imap_as "$CONF" carol 'b SELECT INBOX' 'c FETCH 1:* (FLAGS)')
check "migrated flags" sh -c "echo '$out' | grep -q 'FLAGS (\\\\Flagged \\\\Seen)' &&
    echo '$out' | grep -q 'FLAGS (\\\\Answered)'"
out=$(imap_as "$CONF2" alice 'b STATUS INBOX (UIDVALIDITY UIDNEXT)')
check "the 0.1.0 store kept its UIDVALIDITY" sh -c "echo '$out' | grep -q 'UIDNEXT 4 UIDVALIDITY 1796602431'"

# --- migration of the dual-use tree into the second instance ---
sync migrate-out
check "migration of a dual-use tree exits 0" [ $? -eq 0 ]
for f in INBOX INBOX/Receipts Archive Archive/2025 Archive/2025/Q1 Work/2026; do
	n=$(messages "$CONF" alice "$f")
	check "copied $f: $n messages" [ "${n:-none}" = "$(messages "$CONF2" dave "$f")" ]
done
if grep -q -i 'error' "$T/mbsync.log"; then
	fail "mbsync reported errors"
	cat "$T/mbsync.log"
fi
