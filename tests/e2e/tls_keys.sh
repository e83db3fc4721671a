# Keys and certificates: what `mailnook cert` writes (checked by openssl), the key types
# the server accepts (RSA 2048 and 4096, ECDSA P-256/P-384, PKCS#8 and traditional PEM) and
# refuses (RSA 1024, P-521, Ed25519, a key not matching the certificate), a chain with
# an intermediate CA verified against the root, and a new certificate on SIGHUP.
. "$(dirname "$0")/../lib.sh"

# --- mailnook cert ---
out=$("$MAILNOOK" -c "$CONF" cert --cert "$T/c/cert.pem" --key "$T/c/key.pem" \
    localhost 127.0.0.1 ::1)
check "cert exits 0" test $? -eq 0
text=$(openssl x509 -in "$T/c/cert.pem" -noout -text)
echo "$text" | grep -q 'Subject: CN *= *test.example' && ok "CN is the host name" \
    || fail "CN is the host name"
echo "$text" | grep -q 'DNS:test.example, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1' \
    && ok "SAN lists the host name and the given names" || fail "SAN lists the names"
echo "$text" | grep -q 'ASN1 OID: prime256v1' && ok "P-256 key" || fail "P-256 key"
[ "$(echo "$text" | grep -c 'Signature Algorithm: ecdsa-with-SHA256')" = 2 ] \
    && ok "signed with ecdsa-with-SHA256" || fail "signed with ecdsa-with-SHA256"
echo "$text" | grep -A1 'Basic Constraints: critical' | grep -q 'CA:FALSE' \
    && ok "basicConstraints CA:FALSE" || fail "basicConstraints CA:FALSE"
echo "$text" | grep -A1 'Key Usage: critical' | grep -q 'Digital Signature$' \
    && ok "keyUsage digitalSignature" || fail "keyUsage digitalSignature"
echo "$text" | grep -q 'TLS Web Server Authentication' && ok "extKeyUsage serverAuth" \
    || fail "extKeyUsage serverAuth"
echo "$text" | grep -q 'Version: 3 (0x2)' && ok "X.509 v3" || fail "X.509 v3"
check "openssl verify accepts it as its own CA" \
    openssl verify -CAfile "$T/c/cert.pem" -purpose sslserver "$T/c/cert.pem"
check "openssl accepts the EC key" openssl ec -in "$T/c/key.pem" -check -noout
[ "$(openssl x509 -in "$T/c/cert.pem" -noout -pubkey)" = \
  "$(openssl ec -in "$T/c/key.pem" -pubout 2>/dev/null)" ] \
    && ok "key matches the certificate" || fail "key matches the certificate"
[ "$(stat -c %a "$T/c/key.pem")" = 600 ] && ok "key is 0600" || fail "key is 0600"
fpr=$(openssl x509 -in "$T/c/cert.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
echo "$out" | grep -q "$fpr" && ok "printed fingerprint is the certificate's" \
    || fail "printed fingerprint is the certificate's"
days_between() {
	nb=$(date -d "$(openssl x509 -in "$1" -noout -startdate | sed 's/.*=//')" +%s)
	na=$(date -d "$(openssl x509 -in "$1" -noout -enddate | sed 's/.*=//')" +%s)
	echo $(((na - nb) / 86400))
}
# Valid from a day back (slow client clocks), the requested days in all (Apple's limit).
[ "$(days_between "$T/c/cert.pem")" = 825 ] && ok "default validity 825 days" \
    || fail "default validity 825 days ($(days_between "$T/c/cert.pem"))"
"$MAILNOOK" -c "$CONF" cert --cert "$T/c/cert.pem" --key "$T/c/key.pem" >/dev/null 2>&1
check "existing key is not replaced without --force" test $? -ne 0
"$MAILNOOK" -c "$CONF" cert --cert "$T/c/cert.pem" --key "$T/c/key.pem" --force \
    --days 30 >/dev/null
[ "$(days_between "$T/c/cert.pem")" = 30 ] && ok "--force --days 30" || fail "--force --days 30"
"$MAILNOOK" -c "$CONF" cert --cert "$T/c/x.pem" --key "$T/c/y.pem" 'bad name' >/dev/null 2>&1
check "a name with a space is refused" test $? -ne 0
printf 'tls_cert %s\ntls_key %s\n' "$T/d/cert.pem" "$T/d/key.pem" >>"$CONF"
"$MAILNOOK" -c "$CONF" cert >/dev/null
check "default paths come from tls_cert/tls_key" test -s "$T/d/key.pem"

# --- key types accepted and refused, through the inetd verb ---
mk_cert() { # mk_cert NAME KEYFILE: self-signed certificate for that key
	openssl req -x509 -key "$2" -out "$T/$1.crt" -subj /CN=test.example -days 2 \
	    -addext "subjectAltName=DNS:test.example" 2>/dev/null
}
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rsa2048.key" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rsatrad.p8" 2>/dev/null
openssl pkey -in "$T/rsatrad.p8" -traditional -out "$T/rsatrad.key"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out "$T/rsa4096.key" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$T/rsa1024.key" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/p256.key"
openssl ecparam -name secp384r1 -genkey -out "$T/p384.key"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out "$T/p521.key"
openssl genpkey -algorithm ED25519 -out "$T/ed.key"
for k in rsa2048 rsatrad rsa4096 rsa1024 p256 p384 p521 ed; do mk_cert "$k" "$T/$k.key"; done

# session KIND: one implicit-TLS pop3 session over a socketpair; python verifies.
session() {
	python3 - "$MAILNOOK" "$CONF" "$T/$1.crt" "$T/$1.key" <<'PY'
import socket, ssl, subprocess, sys
mn, conf, crt, key = sys.argv[1:5]
a, b = socket.socketpair()
p = subprocess.Popen([mn, "-c", conf, "-o", "tls_cert=" + crt, "-o", "tls_key=" + key,
                      "pop3", "--tls"], stdin=b, stdout=b, stderr=subprocess.PIPE)
b.close()
ctx = ssl.create_default_context(cafile=crt)
try:
    t = ctx.wrap_socket(a, server_hostname="test.example")
    line = t.recv(100)
    t.sendall(b"QUIT\r\n")
    t.recv(100)
    ok = line.startswith(b"+OK")
except (ssl.SSLError, OSError):
    ok = False
err = p.communicate(timeout=10)[1].decode()
sys.stderr.write(err)
sys.exit(0 if ok and p.returncode == 0 else 1)
PY
}
for k in rsa2048 rsatrad rsa4096 p256 p384; do
	session "$k" 2>"$T/$k.log" && ok "$k key accepted" || { fail "$k key accepted"; cat "$T/$k.log"; }
done
for k in rsa1024 p521 ed; do
	session "$k" 2>"$T/$k.log" && fail "$k key refused" || ok "$k key refused"
done
grep -q 'shorter than 2048' "$T/rsa1024.log" && ok "RSA 1024 refusal says why" \
    || fail "RSA 1024 refusal says why"
grep -q 'not on P-256 or P-384' "$T/p521.log" && ok "P-521 refusal says why" \
    || fail "P-521 refusal says why"
cp "$T/p256.crt" "$T/mismatch.crt"
cp "$T/p384.key" "$T/mismatch.key"
session mismatch 2>"$T/mismatch.log" && fail "key of another certificate refused" \
    || ok "key of another certificate refused"
grep -q 'does not match' "$T/mismatch.log" && ok "mismatch refusal says why" \
    || fail "mismatch refusal says why"

# --- chain with an intermediate CA; the client trusts only the root ---
cat >"$T/ca.ext" <<EXT
[ca]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
[leaf]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:test.example
EXT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/root.key" \
    -out "$T/root.crt" -subj /CN=root -days 2 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/int.key" \
    -out "$T/int.csr" -subj /CN=intermediate 2>/dev/null
openssl x509 -req -in "$T/int.csr" -CA "$T/root.crt" -CAkey "$T/root.key" -CAcreateserial \
    -out "$T/int.crt" -days 2 -extfile "$T/ca.ext" -extensions ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/chain.key" \
    -out "$T/leaf.csr" -subj /CN=test.example 2>/dev/null
openssl x509 -req -in "$T/leaf.csr" -CA "$T/int.crt" -CAkey "$T/int.key" -CAcreateserial \
    -out "$T/leaf.crt" -days 2 -extfile "$T/ca.ext" -extensions leaf 2>/dev/null
cat "$T/leaf.crt" "$T/int.crt" >"$T/chain.crt"
TLS_PORT=$(free_port)
start_serve -o "tls_cert=$T/chain.crt" -o "tls_key=$T/chain.key" \
    -o "listen=127.0.0.1:$TLS_PORT pop3 tls"
wait_port "$TLS_PORT"
sclient() {
	printf 'QUIT\r\n' | timeout 10 openssl s_client -connect "127.0.0.1:$TLS_PORT" \
	    -verify_return_error -verify_hostname test.example -ign_eof "$@" 2>&1
}
out=$(sclient -CAfile "$T/root.crt" -showcerts)
echo "$out" | grep -q 'Verify return code: 0 (ok)' && echo "$out" | grep -q '^+OK' \
    && ok "chain verified against the root alone" || fail "chain verified against the root alone"
[ "$(echo "$out" | grep -c 'BEGIN CERTIFICATE')" = 2 ] && ok "leaf and intermediate sent" \
    || fail "leaf and intermediate sent"

# --- SIGHUP: a renewed certificate is picked up by new sessions ---
cp "$T/c/cert.pem" "$T/chain.crt"
cp "$T/c/key.pem" "$T/chain.key"
kill -HUP "$SERVE_PID"
sleep 0.5
out=$(sclient -CAfile "$T/c/cert.pem")
echo "$out" | grep -q 'Verify return code: 0 (ok)' && ok "new certificate after SIGHUP" \
    || fail "new certificate after SIGHUP"
printf 'not a key\n' >"$T/chain.key"
kill -HUP "$SERVE_PID"
sleep 0.5
out=$(sclient -CAfile "$T/c/cert.pem")
echo "$out" | grep -q 'Verify return code: 0 (ok)' && ok "a broken key on SIGHUP keeps the old one" \
    || fail "a broken key on SIGHUP keeps the old one"
