# Real TLS clients against `mailnook serve`, for an ECDSA P-256 key (from `mailnook
# cert`) and an RSA 2048 key (from openssl): openssl s_client (TLS 1.2 only, every
# configured suite and ECDHE group, server preference, unlisted suites refused), curl pop3s:// and
# STLS, fetchmail over implicit TLS, over STLS and with a pinned fingerprint.
. "$(dirname "$0")/../lib.sh"

add_user alice secret
for i in 1 2 3; do make_msg "$i" "client test $i" | deliver_msg alice; done

"$MAILNOOK" -c "$CONF" cert --cert "$T/ec.crt" --key "$T/ec.key" localhost 127.0.0.1 \
    >/dev/null
check "mailnook cert for the ECDSA run" test -s "$T/ec.crt"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/rsa.key" -out "$T/rsa.crt" \
    -subj /CN=test.example -days 2 \
    -addext "subjectAltName=DNS:test.example,DNS:localhost,IP:127.0.0.1" 2>/dev/null
check "openssl made an RSA 2048 key" test -s "$T/rsa.key"

# sclient PORT CAFILE [s_client args...]: one QUIT over TLS; transcript on stdout
sclient() {
	port=$1
	ca=$2
	shift 2
	printf 'QUIT\r\n' | timeout 10 openssl s_client -connect "127.0.0.1:$port" \
	    -CAfile "$ca" -verify_return_error -verify_hostname test.example -ign_eof "$@" 2>&1
}

# refused OUT: s_client reached the server (TCP connected) and got no POP3 greeting.
# A negative check must fail when nothing listens: it proves a refusal, not an absence.
refused() {
	echo "$1" | grep -q '^CONNECTED(' && ! echo "$1" | grep -q '^+OK'
}

# stop_serve: end the serve started last and wait for it
stop_serve() {
	kill "$SERVE_PID"
	wait "$SERVE_PID" 2>/dev/null
}

run_key() {
	kind=$1
	auth=$2
	crt=$T/$kind.crt
	TLS_PORT=$(free_port)
	start_serve -o "tls_cert=$crt" -o "tls_key=$T/$kind.key" \
	    -o "listen=127.0.0.1:$TLS_PORT pop3 tls"
	wait_port "$TLS_PORT" || fail "$kind: TLS listener up"

	out=$(sclient "$TLS_PORT" "$crt" -tls1_2)
	echo "$out" | grep -q 'Verify return code: 0 (ok)' && echo "$out" | grep -q '^+OK' \
	    && echo "$out" | grep -q 'Protocol *: TLSv1.2' && ok "$kind: s_client TLS 1.2 verified" \
	    || fail "$kind: s_client TLS 1.2 verified"
	out=$(sclient "$TLS_PORT" "$crt")
	echo "$out" | grep -q 'Protocol *: TLSv1.2' && ok "$kind: TLS 1.3 client settles on 1.2" \
	    || fail "$kind: TLS 1.3 client settles on 1.2"
	for v in -tls1 -tls1_1; do
		out=$(sclient "$TLS_PORT" "$crt" "$v" -cipher 'DEFAULT@SECLEVEL=0')
		refused "$out" && ok "$kind: $v refused" || fail "$kind: $v refused"
	done
	# SSL 3.0: no client has it any more, so send a minimal SSL 3.0 ClientHello by hand.
	python3 - "$TLS_PORT" <<'PY' && ok "$kind: SSL 3.0 hello refused" || fail "$kind: SSL 3.0 hello refused"
import socket, sys
body = b"\x03\x00" + b"\x11" * 32 + b"\x00" + b"\x00\x02\xc0\x2b" + b"\x01\x00"
hs = b"\x01" + len(body).to_bytes(3, "big") + body
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.sendall(b"\x16\x03\x00" + len(hs).to_bytes(2, "big") + hs)
s.settimeout(5)
reply = s.recv(16)
# Anything but a ServerHello: an alert record or a closed connection.
sys.exit(0 if not reply.startswith(b"\x16") else 1)
PY
	for c in CHACHA20-POLY1305 AES128-GCM-SHA256 AES256-GCM-SHA384; do
		suite=ECDHE-$auth-$c
		out=$(sclient "$TLS_PORT" "$crt" -tls1_2 -cipher "$suite")
		echo "$out" | grep -q "Cipher is $suite" && echo "$out" | grep -q '^+OK' \
		    && ok "$kind: suite $suite" || fail "$kind: suite $suite"
	done
	# Every ECDHE group the server offers, alone, named as s_client prints it: the key
	# exchange runs on it. With the RSA key only: a TLS 1.2 client takes an ECDSA
	# certificate only on a curve it offers, and the server then prefers that one.
	for g in X25519:X25519 P-256:prime256v1 P-384:secp384r1 P-521:secp521r1; do
		[ "$kind" = rsa ] || break
		out=$(sclient "$TLS_PORT" "$crt" -tls1_2 -groups "${g%%:*}")
		echo "$out" | grep -q '^+OK' && echo "$out" | grep -q "Server Temp Key: .*${g#*:}" \
		    && ok "$kind: ECDHE over ${g%%:*}" || fail "$kind: ECDHE over ${g%%:*}"
	done
	for suite in "ECDHE-$auth-AES128-SHA" "ECDHE-$auth-AES128-SHA256" AES128-GCM-SHA256 \
	    DHE-RSA-AES128-GCM-SHA256; do
		out=$(sclient "$TLS_PORT" "$crt" -tls1_2 -cipher "$suite")
		refused "$out" && ok "$kind: unlisted $suite refused" \
		    || fail "$kind: unlisted $suite refused"
	done
	out=$(sclient "$TLS_PORT" "$crt" -tls1_2 \
	    -cipher "ECDHE-$auth-AES256-GCM-SHA384:ECDHE-$auth-CHACHA20-POLY1305")
	echo "$out" | grep -q "Cipher is ECDHE-$auth-CHACHA20-POLY1305" \
	    && ok "$kind: server preference wins" || fail "$kind: server preference wins"

	out=$(curl -s --max-time 10 --cacert "$crt" -u alice:secret "pop3s://127.0.0.1:$TLS_PORT/1")
	echo "$out" | grep -q '^Subject: client test 1' && ok "$kind: curl pop3s:// RETR" \
	    || fail "$kind: curl pop3s:// RETR"
	out=$(curl -s --max-time 10 --ssl-reqd --cacert "$crt" -u alice:secret \
	    "pop3://127.0.0.1:$POP3_PORT/2")
	echo "$out" | grep -q '^Subject: client test 2' && ok "$kind: curl STLS RETR" \
	    || fail "$kind: curl STLS RETR"
	# 60: the peer's certificate did not verify (not 7, nobody listening)
	curl -s --max-time 10 --ssl-reqd --cacert "$T/other.crt" -u alice:secret \
	    "pop3://127.0.0.1:$POP3_PORT/2" >/dev/null
	check "$kind: curl with the wrong CA fails verification" test $? -eq 60
}

"$MAILNOOK" -c "$CONF" cert --cert "$T/other.crt" --key "$T/other.key" localhost >/dev/null
run_key ec ECDSA
stop_serve
run_key rsa RSA

# fetchmail (against the RSA serve still running): implicit TLS with the CA file,
# STLS with the CA file, then pinning by fingerprint; --keep so each run sees mail.
export HOME=$T
fetch() {
	what=$1
	rm -f "$T/fetched"
	printf '%s\n' "poll test.example via 127.0.0.1 protocol pop3 $2" \
	    "  user alice there with password \"secret\" is root here" \
	    "  options keep fetchall $3 mda \"cat >>$T/fetched\"" >"$T/fetchmailrc"
	chmod 600 "$T/fetchmailrc"
	timeout 30 fetchmail -f "$T/fetchmailrc" --nodetach --nosyslog >"$T/fetchmail.log" 2>&1
	if [ "$4" = yes ]; then
		[ "$(grep -c '^Subject: client test' "$T/fetched" 2>/dev/null)" = 3 ] \
		    && ok "fetchmail $what" || { fail "fetchmail $what"; cat "$T/fetchmail.log"; }
	else
		# refused by the certificate check, not for want of a server
		! grep -q '^Subject:' "$T/fetched" 2>/dev/null && grep -qi "$5" "$T/fetchmail.log" \
		    && ok "fetchmail $what" || { fail "fetchmail $what"; cat "$T/fetchmail.log"; }
	fi
}
md5=$(openssl x509 -in "$T/rsa.crt" -noout -fingerprint -md5 | sed 's/.*=//')
fetch "over implicit TLS, sslcertck" "port $TLS_PORT" \
    "ssl sslcertck sslcommonname test.example sslcertfile \"$T/rsa.crt\"" yes
fetch "over STLS, sslcertck" "port $POP3_PORT" \
    "sslproto TLS1.2+ sslcertck sslcommonname test.example sslcertfile \"$T/rsa.crt\"" yes
fetch "pinned by fingerprint" "port $TLS_PORT" \
    "ssl no sslcertck sslfingerprint \"$md5\"" yes
fetch "with a wrong pinned fingerprint fails" "port $TLS_PORT" \
    "ssl no sslcertck sslfingerprint \"00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\"" no "fingerprint"
fetch "with an untrusted certificate fails" "port $TLS_PORT" \
    "ssl sslcertck sslcertfile \"$T/other.crt\"" no "certificate"
stop_serve
grep -q -e Sanitizer -e 'runtime error' "$T/serve.log" && fail "no sanitizer report from serve" \
    || ok "no sanitizer report from serve"
grep -q 'TLS handshake failed from 127.0.0.1: sent alert protocol_version' "$T/serve.log" \
    && ok "old protocol versions logged by name" || fail "old protocol versions logged by name"
