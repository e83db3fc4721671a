"""Failed-login throttle across separate `mailnook pop3` processes (one per connection,
as under inetd), keyed by the client address the launcher gives in TCPREMOTEIP."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, make_msg  # noqa: E402


def session(env, addr, user, password, *extra):
    """One pop3 process on pipes; returns (seconds, reply text, stderr text)."""
    e = dict(os.environ, TCPREMOTEIP=addr)
    t = time.time()
    r = subprocess.run(env.cmd(*extra, "pop3"), env=e, timeout=60,
                       input=("USER %s\r\nPASS %s\r\nQUIT\r\n" % (user, password)).encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return time.time() - t, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


env = Env()
try:
    env.add_user("bob", "secret")
    env.deliver("bob", make_msg(1))
    t, out, err = session(env, "127.0.0.7", "bob", "wrong")
    check("wrong password refused", "-ERR" in out.split("\r\n")[2], out)
    check("first failure costs about 1 s (%.2f)" % t, 0.9 <= t < 1.9)
    check("failure logged with the TCPREMOTEIP address",
          "login failed user=bob from 127.0.0.7" in err and "connect from 127.0.0.7" in err, err)
    t, out, err = session(env, "127.0.0.8", "nosuchuser", "wrong")
    check("unknown user: same first delay from another address (%.2f)" % t, 0.9 <= t < 1.9)
    t, out, err = session(env, "127.0.0.7", "bob", "secret")
    check("right password accepted, not delayed (%.2f)" % t, "+OK" in out.split("\r\n")[2] and t < 0.9,
          out)
    t, out, err = session(env, "127.0.0.7", "bob", "wrong")
    check("a login forgets earlier failures (%.2f)" % t, 0.9 <= t < 1.9)
    norun = "runtime_dir=%s/no/run" % env.dir
    t, out, err = session(env, "127.0.0.7", "bob", "secret", "-o", norun)
    check("missing runtime dir does not break login", "+OK" in out.split("\r\n")[2], out + err)
    t, out, err = session(env, "127.0.0.7", "bob", "x", "-o", norun)
    check("missing runtime dir: base delay, reported (%.2f)" % t,
          0.9 <= t < 1.9 and "failed-login table" in err and "unusable" in err, err)
    check("a runtime dir with a missing parent is not created",
          not os.path.exists(os.path.join(env.dir, "no")))
finally:
    env.close()
done()
