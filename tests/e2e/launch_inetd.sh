# Launch under a real openbsd-inetd: full POP3 login, STAT, RETR, QUIT through it;
# failed logins logged with the address; the delay grows across separate processes.
. "$(dirname "$0")/../lib.sh"

INETD=/usr/sbin/inetd
[ -x "$INETD" ] || { fail "openbsd-inetd is not installed (tests/deps.sh installs it)"; exit 1; }

add_user bob secret
make_msg 1 "via inetd" | deliver_msg bob

# inetd gives the session the socket as stdin, stdout and stderr: the log goes to a file.
cat >"$T/pop3.sh" <<SH
#!/bin/sh
exec "$MAILNOOK" -c "$CONF" pop3 2>>"$T/pop3.log"
SH
chmod 755 "$T/pop3.sh"
PORT=$(free_port)
echo "127.0.0.1:$PORT stream tcp nowait $(id -un) $T/pop3.sh pop3.sh" >"$T/inetd.conf"
"$INETD" -d "$T/inetd.conf" >"$T/inetd.log" 2>&1 &
PIDS="$PIDS $!"
wait_port "$PORT" || { fail "inetd did not listen"; cat "$T/inetd.log"; exit 1; }

out=$(pop3_fetch "$PORT" bob secret)
case "$out" in
"stat 1 "*"Subject: via inetd"*) ok "login, STAT, RETR, QUIT through inetd" ;;
*) fail "login, STAT, RETR, QUIT through inetd: $out" ;;
esac
check "connect logged with the address" grep -q "connect from 127.0.0.1" "$T/pop3.log"
check "login logged" grep -q "login user=bob from 127.0.0.1" "$T/pop3.log"

t1=$(pop3_fail_time "$PORT" bob wrong)
t2=$(pop3_fail_time "$PORT" bob wrong2)
check "first failure delayed about 1 s ($t1/10 s)" test "$t1" -ge 9 -a "$t1" -lt 19
check "second failure, another process, about 2 s ($t2/10 s)" test "$t2" -ge 19 -a "$t2" -lt 35
check "failed login logged with the address" grep -q "login failed user=bob from 127.0.0.1" "$T/pop3.log"
if [ "$(id -u)" -eq 0 ]; then
	check "throttle table written by the unprivileged session" [ "$(stat -c %U "$T/run/fails")" = nobody ]
fi
