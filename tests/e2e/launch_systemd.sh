# Launch the way a systemd socket unit with Accept=yes does (systemd-socket-activate in
# inetd mode): full POP3 login, STAT, RETR, QUIT.
. "$(dirname "$0")/../lib.sh"

command -v systemd-socket-activate >/dev/null ||
	{ fail "systemd-socket-activate is not installed (tests/deps.sh installs systemd)"; exit 1; }

add_user bob secret
make_msg 1 "via systemd" | deliver_msg bob
PORT=$(free_port)
systemd-socket-activate --inetd -a -l "127.0.0.1:$PORT" "$MAILNOOK" -c "$CONF" pop3 \
    >"$T/sd.log" 2>&1 &
PIDS="$PIDS $!"
wait_port "$PORT" || { fail "systemd-socket-activate did not listen"; cat "$T/sd.log"; exit 1; }

for n in 1 2; do
	out=$(pop3_fetch "$PORT" bob secret)
	case "$out" in
	"stat 1 "*"Subject: via systemd"*) ok "login, STAT, RETR, QUIT through systemd, connection $n" ;;
	*) fail "login, STAT, RETR, QUIT through systemd, connection $n: $out" ;;
	esac
done
sleep 0.2
check "session logged the client address" grep -q "connect from 127.0.0.1" "$T/sd.log"
check "login logged" grep -q "login user=bob from 127.0.0.1" "$T/sd.log"
