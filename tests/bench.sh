#!/bin/sh
# make bench: numbers for this machine (not a test: it prints numbers and ratios, never
# pass/fail), also saved to tests/out/bench.txt.
#  - full TLS 1.2 handshakes per second against `mailnook serve` on loopback, for an
#    ECDSA P-256 and an RSA 2048 key, next to `openssl s_server` and Dovecot's pop3s with
#    the same key and suite (openssl s_time as the client, one connection at a time);
#  - plain connections per second (fork + greeting, no TLS) as the baseline;
#  - resident memory of a session child, plain and TLS; BearSSL memory per session;
#  - binary size with and without TLS (builds build/notls/mailnook);
#  - mailnook next to Dovecot (mbox and maildir) on the same mail: memory, SELECT/FETCH/
#    POP3 times, bytes written per operation, RETR throughput, installed size
#    (tests/bench/compare.py, which says how each is measured).
# Installs dovecot-core, dovecot-pop3d, dovecot-imapd and strace when missing (Debian).
# BENCH_SECONDS (default 5, 1 with QUICK=1) sets the length of each TLS run; QUICK=1 uses
# folders of 2 000 and 5 000 messages instead of 20 000 and 50 000 (under a minute).
set -eu
self=$(realpath "$0")
cd "$(dirname "$0")/.."
if [ -z "${BENCH_TEE:-}" ]; then
	mkdir -p tests/out
	rc_file=$(mktemp)
	{
		rc=0
		BENCH_TEE=1 sh "$self" "$@" || rc=$?
		echo "$rc" >"$rc_file"
	} | tee tests/out/bench.txt
	rc=$(cat "$rc_file")
	rm -f "$rc_file"
	exit "$rc"
fi
# Dovecot runs as root with a private config and drops to nobody; without root only the
# mailnook and openssl numbers are printed.
dovecot=""
[ "$(id -u)" -eq 0 ] && dovecot=/usr/sbin/dovecot
missing=""
for p in dovecot-core dovecot-pop3d dovecot-imapd strace; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$dovecot" ] && [ -n "$missing" ]; then
	echo "installing:$missing" >&2
	env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    $missing >/dev/null 2>&1
fi
MAILNOOK=$(realpath "${MAILNOOK:-build/release/mailnook}")
secs=${BENCH_SECONDS:-5}
[ "${QUICK:-0}" = 1 ] && secs=${BENCH_SECONDS:-1}
T=$(mktemp -d /tmp/mailnook-bench.XXXXXX)
chmod 755 "$T"
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

user=$(id -un)
[ "$(id -u)" -eq 0 ] && user=nobody
mkdir -p "$T/mail" "$T/run"
[ "$(id -u)" -eq 0 ] && chown nobody "$T/mail" "$T/run"
cat >"$T/conf" <<CONF
mail_root $T/mail
passwd_file $T/passwd
runtime_dir $T/run
user $user
log stderr
hostname bench.example
max_children 64
max_per_ip 64
max_unauth 64
CONF

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
	python3 -c '
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close(); sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)' "$1"
}
now_ms() { date +%s%3N; }

# rate PORT CIPHER: full handshakes per second with openssl s_time
rate() {
	t0=$(now_ms)
	n=$(openssl s_time -connect "127.0.0.1:$1" -new -tls1_2 -cipher "$2" -time "$secs" \
	    2>/dev/null | sed -n 's/^\([0-9]*\) connections in [0-9]* real.*/\1/p')
	t1=$(now_ms)
	echo $((n * 1000 / (t1 - t0)))
}

serve() { # serve PORT TLSPORT CERT KEY: background serve, pid in SERVE_PID
	"$MAILNOOK" -c "$T/conf" -o "listen=127.0.0.1:$1 pop3" -o "listen=127.0.0.1:$2 pop3 tls" \
	    -o "tls_cert=$3" -o "tls_key=$4" serve -f 2>"$T/serve.log" &
	SERVE_PID=$!
	PIDS="$PIDS $SERVE_PID"
	wait_port "$2"
}

"$MAILNOOK" -c "$T/conf" cert --cert "$T/ec.crt" --key "$T/ec.key" >/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/rsa.key" -out "$T/rsa.crt" \
    -subj /CN=bench.example -days 2 2>/dev/null

# dovecot_tls PORT CERT KEY SUITE: background Dovecot with only a pop3s listener, pid in
# DC_PID (one login process per connection, its default; no mail is read)
dovecot_tls() {
	d=$T/dc-tls-$1
	mkdir -p "$d/run" "$d/state"
	: >"$d/passwd"
	cat >"$d/dovecot.conf" <<DCONF
base_dir = $d/run
state_dir = $d/state
log_path = $d/log
protocols = pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <$2
ssl_key = <$3
ssl_min_protocol = TLSv1.2
ssl_cipher_list = $4
default_internal_user = dovecot
default_login_user = dovenull
passdb {
  driver = passwd-file
  args = $d/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$d
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = $1
  }
}
DCONF
	"$dovecot" -c "$d/dovecot.conf" -F >"$d/out" 2>&1 &
	DC_PID=$!
	PIDS="$PIDS $DC_PID"
	wait_port "$1"
}

echo "mailnook TLS bench on $(uname -m), $(nproc) CPUs, $secs s per run"
echo "(mailnook forks a session per connection and sends its greeting; s_server does neither;"
echo " Dovecot's pop3s starts a login process per connection, its default, and greets)"
echo
printf '%-8s %-32s %10s %10s %7s %10s %7s\n' key suite mailnook openssl ratio dovecot ratio
for kind in ec rsa; do
	auth=ECDSA
	[ "$kind" = rsa ] && auth=RSA
	suite=ECDHE-$auth-AES128-GCM-SHA256
	p=$(free_port)
	tp=$(free_port)
	serve "$p" "$tp" "$T/$kind.crt" "$T/$kind.key"
	m=$(rate "$tp" "$suite")
	kill "$SERVE_PID"
	wait "$SERVE_PID" 2>/dev/null || true
	op=$(free_port)
	openssl s_server -accept "$op" -cert "$T/$kind.crt" -key "$T/$kind.key" -tls1_2 \
	    -cipher "$suite" -quiet >/dev/null 2>&1 &
	opid=$!
	PIDS="$PIDS $opid"
	wait_port "$op"
	o=$(rate "$op" "$suite")
	kill "$opid"
	wait "$opid" 2>/dev/null || true
	dc=-
	dr=-
	if [ -n "$dovecot" ]; then
		dp=$(free_port)
		dovecot_tls "$dp" "$T/$kind.crt" "$T/$kind.key" "$suite"
		dc=$(rate "$dp" "$suite")
		kill "$DC_PID"
		wait "$DC_PID" 2>/dev/null || true
		dr=$(echo "$m $dc" | awk '{ printf "%.2f", $2 ? $1 / $2 : 0 }')
		dc=$dc/s
	fi
	printf '%-8s %-32s %8s/s %8s/s %7s %10s %7s\n' "$kind" "$suite" "$m" "$o" \
	    "$(echo "$m $o" | awk '{ printf "%.2f", $2 ? $1 / $2 : 0 }')" "$dc" "$dr"
done

p=$(free_port)
tp=$(free_port)
serve "$p" "$tp" "$T/ec.crt" "$T/ec.key"
python3 - "$p" "$tp" "$T/ec.crt" "$secs" "$SERVE_PID" <<'PY'
import os, socket, ssl, sys, time
port, tport, crt, secs, spid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], \
    float(sys.argv[4]), sys.argv[5]
n, t0 = 0, time.time()
while time.time() - t0 < secs:
    s = socket.create_connection(("127.0.0.1", port))
    s.recv(100)
    s.close()
    n += 1
print("\nplain connections (fork + greeting, python client): %d/s" % (n / (time.time() - t0)))


def child_rss():
    time.sleep(0.3)
    kids = open("/proc/%s/task/%s/children" % (spid, spid)).read().split()
    for line in open("/proc/%s/status" % kids[-1]):
        if line.startswith("VmRSS"):
            return line.split()[1]


s = socket.create_connection(("127.0.0.1", port))
s.recv(100)
plain = child_rss()
ctx = ssl.create_default_context(cafile=crt)
ctx.check_hostname = False
t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", tport)))
t.recv(100)
tls = child_rss()
print("session child resident memory: plain %s kB, TLS %s kB (%s)" % (plain, tls, t.cipher()[0]))
PY

echo
cc -I/usr/include/bearssl -Isrc -o "$T/tls_mem" tests/bench/tls_mem.c
echo "BearSSL memory per TLS session:"
"$T/tls_mem" | sed 's/^/  /'

echo
make -s TLS=0 build/notls/mailnook >/dev/null
with=$(stat -c %s "$MAILNOOK")
without=$(stat -c %s build/notls/mailnook)
echo "binary size: with TLS $with bytes, without $without bytes, TLS costs $((with - without)) bytes"

if [ -n "$dovecot" ]; then
	echo
	mkdir -p "$T/cmp"
	python3 tests/bench/compare.py "$MAILNOOK" "$T/cmp"
fi
