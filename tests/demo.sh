#!/bin/sh
# make run: install missing build packages, build, set up ./demo/ (config, user demo with
# password demo, an INBOX with a few messages, a self-signed certificate) and serve POP3 and
# IMAP in the foreground on 127.0.0.1 high ports until Ctrl-C.
set -eu
cd "$(dirname "$0")/.."

POP3_PORT=${POP3_PORT:-11110}
IMAP_PORT=${IMAP_PORT:-11143}
POP3S_PORT=${POP3S_PORT:-11995}
IMAPS_PORT=${IMAPS_PORT:-11993}

tests/deps.sh
make -s mailnook

D=$(pwd)/demo
BIN=$(pwd)/build/release/mailnook
mkdir -p "$D/mail" "$D/run"
chmod 755 "$D"
# Started as root, mailnook refuses to keep root for mail: the demo mail belongs to nobody.
if [ "$(id -u)" -eq 0 ]; then
	RUN_USER=nobody
	chown nobody "$D/mail" "$D/run"
else
	RUN_USER=$(id -un)
fi

cat >"$D/mailnook.conf" <<CONF
# mailnook demo configuration (written by make run; see README.md for every key)
mail_root $D/mail
passwd_file $D/passwd
runtime_dir $D/run
user $RUN_USER
hostname localhost
listen 127.0.0.1:$POP3_PORT pop3
listen 127.0.0.1:$IMAP_PORT imap
log stderr
CONF

run() { "$BIN" -c "$D/mailnook.conf" "$@"; }

TLS_LINE="  (no TLS: this build has none)"
if [ -f "$D/cert.pem" ] ||
    run cert --cert "$D/cert.pem" --key "$D/key.pem" localhost 127.0.0.1 >/dev/null; then
	cat >>"$D/mailnook.conf" <<CONF
tls_cert $D/cert.pem
tls_key $D/key.pem
listen 127.0.0.1:$POP3S_PORT pop3 tls
listen 127.0.0.1:$IMAPS_PORT imap tls
CONF
	TLS_LINE="  POP3S  127.0.0.1:$POP3S_PORT   IMAPS 127.0.0.1:$IMAPS_PORT   TLS, self-signed ./demo/cert.pem"
fi
printf 'demo\n' | run passwd demo >/dev/null

if [ ! -s "$D/mail/demo/INBOX" ]; then
	for n in 1 2 3; do
		printf 'From: Friend %s <friend%s@example.org>\nTo: demo@localhost\nSubject: Demo message %s\nDate: %s\nMessage-ID: <demo%s@example.org>\n\nHello from mailnook, message %s of 3.\n\nFetch me with any POP3 or IMAP client.\n' \
		    "$n" "$n" "$n" "$(date -R)" "$n" "$n" | run deliver -f "friend$n@example.org" demo
	done
fi

cat <<EOF

mailnook demo is starting (Ctrl-C stops it). Mail, config and logs live in ./demo/.

  POP3   127.0.0.1:$POP3_PORT   IMAP  127.0.0.1:$IMAP_PORT   plain text (allowed on loopback)
$TLS_LINE
  user demo, password demo, 3 messages in INBOX

Try it from another terminal:
  curl pop3://demo:demo@127.0.0.1:$POP3_PORT/1
  curl 'imap://demo:demo@127.0.0.1:$IMAP_PORT/INBOX;UID=1'
  curl --cacert demo/cert.pem pop3s://demo:demo@localhost:$POP3S_PORT/
  mutt -f imap://demo@127.0.0.1:$IMAP_PORT/INBOX
  openssl s_client -quiet -connect 127.0.0.1:$POP3S_PORT    (then: USER demo, PASS demo, LIST, QUIT)
Add mail:  ./mailnook -c demo/mailnook.conf deliver demo < message.eml
Log lines appear below.

EOF
exec "$BIN" -c "$D/mailnook.conf" serve -f
