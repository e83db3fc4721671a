# Shared shell helpers for end-to-end tests; source it from tests/e2e/*.sh.
# Gives: $T (private temp dir), $CONF, $MAIL, ok/fail/check, add_user, deliver_msg,
# free_port, start_serve/wait_port, and cleanup of everything started.
set -u
: "${MAILNOOK:?set MAILNOOK to the binary under test}"
# Sessions started on pipes need a launcher to name the client, as tcpsvd does; without
# one the client is unknown and counts as remote. Tests launch from loopback.
export TCPREMOTEIP="${TCPREMOTEIP:-127.0.0.1}"
TESTS_DIR=$(cd "$(dirname "$0")/.." && pwd)

T=$(mktemp -d /tmp/mailnook-test.XXXXXX)
chmod 755 "$T"
CONF=$T/mailnook.conf
MAIL=$T/mail
PIDS=""

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	sleep 0.1
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	[ -n "${KEEP_T:-}" ] || rm -rf "$T"
}
trap cleanup EXIT INT TERM

ok() { echo "ok - $*"; }
fail() { echo "FAIL - $*"; }
# check "what" command args...: ok if the command succeeds
check() {
	what=$1
	shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}

# Run everything as an unprivileged owner of the mail, like a real install.
if [ "$(id -u)" -eq 0 ]; then
	RUN_USER=nobody
else
	RUN_USER=$(id -un)
fi
mkdir -p "$MAIL" "$T/run"
[ "$(id -u)" -eq 0 ] && chown "$RUN_USER" "$MAIL" "$T/run"

cat >"$CONF" <<CONF
mail_root $MAIL
passwd_file $T/passwd
runtime_dir $T/run
user $RUN_USER
log stderr
hostname test.example
CONF

# add_user NAME PASSWORD
add_user() {
	printf '%s\n' "$2" | "$MAILNOOK" -c "$CONF" passwd "$1" >/dev/null
}

# deliver_msg USER [SENDER] < message
deliver_msg() {
	if [ $# -ge 2 ]; then
		"$MAILNOOK" -c "$CONF" deliver -f "$2" "$1"
	else
		"$MAILNOOK" -c "$CONF" deliver "$1"
	fi
}

# make_msg N SUBJECT [BODYLINES]: a small RFC 5322 message on stdout
make_msg() {
	printf 'From: sender%s@example.org\nTo: user@test.example\nSubject: %s\nMessage-ID: <%s.%s@example.org>\nDate: Sat, 28 Nov 2026 10:00:00 +0000\n\n' \
	    "$1" "$2" "$1" "$$"
	i=0
	while [ "$i" -lt "${3:-3}" ]; do
		printf 'line %s of message %s\n' "$i" "$1"
		i=$((i + 1))
	done
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT [HOST]: until something accepts there (5 s)
wait_port() {
	python3 - "$1" "${2:-127.0.0.1}" <<'PY'
import socket, sys, time
end = time.time() + 5
while time.time() < end:
    try:
        socket.create_connection((sys.argv[2], int(sys.argv[1])), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
}

# start_serve [extra args...]: serve in the foreground on POP3_PORT (chosen here);
# its log goes to $T/serve.log
start_serve() {
	POP3_PORT=$(free_port)
	"$MAILNOOK" -c "$CONF" -o "listen=127.0.0.1:$POP3_PORT pop3" "$@" serve -f >"$T/serve.log" 2>&1 &
	SERVE_PID=$!
	PIDS="$PIDS $SERVE_PID"
	wait_port "$POP3_PORT" || { fail "serve did not start"; cat "$T/serve.log"; exit 1; }
}

# pop3_fetch PORT USER PASSWORD: log in with python poplib, STAT, RETR 1, QUIT; prints
# "stat COUNT SIZE" and then message 1. Fails (non-zero) on any protocol error.
pop3_fetch() {
	python3 - "$@" <<'PY'
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
p.user(sys.argv[2])
p.pass_(sys.argv[3])
count, size = p.stat()
print("stat %d %d" % (count, size))
for line in p.retr(1)[1]:
    print(line.decode(errors="replace"))
p.quit()
PY
}

# pop3_fail_time PORT USER PASSWORD: seconds (x10, integer) from PASS to its -ERR
pop3_fail_time() {
	python3 - "$@" <<'PY'
import poplib, sys, time
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=30)
p.user(sys.argv[2])
t = time.time()
try:
    p.pass_(sys.argv[3])
    print(-1)
except poplib.error_proto:
    print(int((time.time() - t) * 10))
PY
}

# fetchmail_rc SERVER OPTIONS: $T/fetchmailrc polling 127.0.0.1 with SERVER (protocol,
# port, ...) for alice (password secret) as local bob, without TLS, plus OPTIONS
fetchmail_rc() {
	cat >"$T/fetchmailrc" <<RC
poll 127.0.0.1 $1
  user alice there with password secret is bob here
  options sslproto "" $2
RC
	chmod 600 "$T/fetchmailrc"
}

# fetchmail_run: one fetchmail pass over $T/fetchmailrc, each message delivered to bob by
# `mailnook deliver`; output appended to $T/fetchmail.log, fetchmail's exit status returned.
# fetchmail keeps its lock and id files under $HOME: point HOME at $T first.
fetchmail_run() {
	timeout 30 fetchmail -f "$T/fetchmailrc" --nodetach --nosyslog --idfile "$T/fetchids" \
	    --pidfile "$T/fetchmail.pid" --mda "$MAILNOOK -c $CONF deliver -f %F bob" \
	    >>"$T/fetchmail.log" 2>&1
}
