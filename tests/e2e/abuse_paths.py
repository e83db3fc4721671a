"""Files and addresses: symlinks inside a mail directory are refused by SELECT, EXAMINE,
STATUS, APPEND and POP3 (the files they point at stay untouched); a session on pipes
with no launcher naming the client counts as remote; serve and the verbs warn when
passwd_file or tls_key is readable by every user; `mailnook cert` certificates span at
most 825 days, the backdated day included."""
import datetime
import hashlib
import imaplib
import os
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, free_port, make_msg  # noqa: E402


def digest(path):
    st = os.stat(path)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest(), st.st_size, st.st_mtime_ns


def symlinks(env):
    env.add_user("alice", "secret")
    env.add_user("bob", "secret")
    env.deliver("alice", make_msg(1))
    env.deliver("bob", make_msg(2))
    outside = os.path.join(env.dir, "outside")
    with open(outside, "wb") as f:
        f.write(b"From x@example.org Sat Nov 28 10:00:00 2026\n" + make_msg(9, "outside"))
    os.chmod(outside, 0o666)
    before = digest(outside)
    adir = os.path.join(env.mail, "alice")
    os.symlink(outside, os.path.join(adir, "Evil"))
    imap = free_port()
    pop3 = env.serve("listen=127.0.0.1:%d imap" % imap)
    c = imaplib.IMAP4("127.0.0.1", imap, timeout=60)
    c.login("alice", "secret")
    for what, call in (("SELECT", lambda: c.select("Evil")),
                       ("EXAMINE", lambda: c.select("Evil", readonly=True)),
                       ("STATUS", lambda: c.status("Evil", "(MESSAGES)")),
                       ("APPEND", lambda: c.append("Evil", None, None, make_msg(3)))):
        try:
            typ = call()[0]
        except imaplib.IMAP4.error:
            typ = "error"
        check("IMAP %s of a folder that is a symlink refused (%s)" % (what, typ), typ == "NO")
    # A side file planted as a symlink: the folder is not opened through it.
    c.create("Trap")
    c.append("Trap", None, None, make_msg(4))
    c.logout()
    side = os.path.join(adir, ".mailnook")
    victims = [f for f in os.listdir(side) if f.startswith("Trap.")]
    for f in victims:
        os.unlink(os.path.join(side, f))
        os.symlink(outside, os.path.join(side, f))
    c = imaplib.IMAP4("127.0.0.1", imap, timeout=60)
    c.login("alice", "secret")
    try:
        typ = c.select("Trap")[0]
        if typ == "OK":
            c.fetch("1:*", "(FLAGS BODY.PEEK[])")
            c.store("1:*", "+FLAGS", "(\\Seen)")
    except imaplib.IMAP4.error:
        typ = "error"
    c.logout()
    check("a folder whose side files (%s) are symlinks is not opened through them (%s)" %
          (",".join(sorted(victims)), typ), typ == "NO" and victims)
    bdir = os.path.join(env.mail, "bob")
    os.unlink(os.path.join(bdir, "INBOX"))
    os.symlink(outside, os.path.join(bdir, "INBOX"))
    p = subprocess.run(env.cmd("pop3"), input=b"USER bob\r\nPASS secret\r\nDELE 1\r\nQUIT\r\n",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    out = p.stdout.decode(errors="replace").split("\r\n")
    check("POP3 on a maildrop that is a symlink refused", out[2].startswith("-ERR"), out)
    check("the file behind every symlink is untouched", digest(outside) == before)


def unknown_peer(env):
    e = {k: v for k, v in os.environ.items() if k not in ("TCPREMOTEIP", "REMOTE_HOST")}
    p = subprocess.run(env.cmd("pop3"), input=b"CAPA\r\nUSER alice\r\nPASS secret\r\nQUIT\r\n",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, env=e)
    out = p.stdout.decode(errors="replace")
    err = p.stderr.decode(errors="replace")
    check("pipes with no launcher variable: the client is unknown and remote, no USER offered",
          "\r\nUSER\r\n" not in out and "connect from unknown" in err, out + err)
    check("and its plaintext password refused", "+OK Logged in" not in out and
          "login user=alice" not in err, out)


def secrets(env):
    cert = os.path.join(env.dir, "cert.pem")
    key = os.path.join(env.dir, "key.pem")
    r = subprocess.run(env.cmd("cert", "--cert", cert, "--key", key, "localhost"),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check("mailnook cert ran", r.returncode == 0, r.stderr)
    dec = ssl._ssl._test_decode_cert(cert)
    fmt = "%b %d %H:%M:%S %Y %Z"
    span = (datetime.datetime.strptime(dec["notAfter"], fmt) -
            datetime.datetime.strptime(dec["notBefore"], fmt))
    check("certificate spans 825 days, backdating included (%s)" % span,
          span == datetime.timedelta(days=825))
    now = datetime.datetime.utcnow()
    check("and is valid now", datetime.datetime.strptime(dec["notBefore"], fmt) < now <
          datetime.datetime.strptime(dec["notAfter"], fmt))
    passwd = os.path.join(env.dir, "passwd")
    conf = ["-o", "tls_cert=" + cert, "-o", "tls_key=" + key]
    os.chmod(passwd, 0o640)
    os.chmod(key, 0o600)
    p = subprocess.run(env.cmd(*conf, "pop3"), input=b"QUIT\r\n", stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    check("no warning for passwd 0640 and key 0600", b"every user" not in p.stderr, p.stderr)
    os.chmod(passwd, 0o644)
    os.chmod(key, 0o604)
    p = subprocess.run(env.cmd(*conf, "pop3"), input=b"QUIT\r\n", stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    err = p.stderr.decode(errors="replace")
    check("pop3 verb warns that passwd_file and tls_key are readable by every user",
          "passwd_file %s is readable by every user" % passwd in err and
          "tls_key %s is readable by every user" % key in err, err)
    port = env.serve(*["tls_cert=" + cert, "tls_key=" + key])
    check("serve warns at start too", "tls_key %s is readable by every user" % key in env.log(),
          env.log()[-1000:])
    os.chmod(passwd, 0o640)
    os.chmod(key, 0o600)


env = Env()
try:
    symlinks(env)
    unknown_peer(env)
    secrets(env)
finally:
    env.close()
done()
