"""No input pins a CPU: a LIST pattern of 200 stars is answered (it took exponential
time), every session runs under a CPU time limit, and a session that reaches it logs
and ends on its own."""
import imaplib
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, free_port, make_msg  # noqa: E402

SOFT, HARD = 300, 305   # SESSION_CPU_MAX and + SESSION_CPU_GRACE in src/params.h


def children(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(p) for p in f.read().split()]


def cpu_limit(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max cpu time"):
                return line.split()[3:5]
    return None


env = Env()
try:
    env.add_user("alice", "secret")
    env.deliver("alice", make_msg(1))
    port = free_port()
    env.serve("listen=127.0.0.1:%d imap" % port)
    env.wait_idle()
    c = imaplib.IMAP4("127.0.0.1", port, timeout=120)
    c.login("alice", "secret")
    c.create("Club/Q1")
    typ, data = c.list('""', '"' + "*" * 200 + 'x"')
    check("LIST with 200 stars then x answered OK, nothing listed", typ == "OK" and
          data == [None], (typ, data))
    typ, data = c.list('""', '"' + "%" * 100 + "/" + "*" * 100 + '1"')
    check("LIST with 100 %% / 100 * then 1 finds Club/Q1", typ == "OK" and len(data) == 1 and
          b"Club/Q1" in data[0], (typ, data))
    kids = children(env.procs[0].pid)
    check("the serve session runs under a %d s CPU limit (hard %d)" % (SOFT, HARD),
          len(kids) == 1 and cpu_limit(kids[0]) == [str(SOFT), str(HARD)],
          [cpu_limit(k) for k in kids])

    c.logout()

    # At the limit a session logs and exits by itself. The launcher's lower soft limit
    # (1 s) is kept; the session works (SEARCH TEXT over a 4 MB message) until gone.
    env.deliver("alice", make_msg(2, "big", 60000))
    s = imaplib.IMAP4_stream("ulimit -S -t 1; TCPREMOTEIP=127.0.0.1 exec %s 2>>%s/serve.log"
                             % (" ".join(env.cmd("imap")), env.dir))
    check("imap verb under ulimit -S -t 1: soft 1, hard 6", cpu_limit(s.process.pid) ==
          ["1", "6"], cpu_limit(s.process.pid))
    s.login("alice", "secret")
    s.select("INBOX")
    gone = False
    for i in range(5000):
        try:
            s.search(None, "TEXT", "nowhere-to-be-found")
        except (imaplib.IMAP4.abort, OSError, EOFError):
            gone = True
            break
    rc = s.process.wait(30)
    check("a session at its CPU limit ends (after %d searches)" % i, gone)
    check("it says so in the log", "session reached its CPU time limit, closing" in env.log(),
          env.log()[-2000:])
    check("and exits 75 rather than being killed (rc %d)" % rc, rc == 75)

    # An unlimited launcher: the verb sets the same limit as serve's children.
    p = subprocess.Popen(env.cmd("imap"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    greeting = p.stdout.readline()
    check("imap verb on pipes: the same CPU limit", greeting.startswith(b"* OK") and
          cpu_limit(p.pid) == [str(SOFT), str(HARD)], (greeting, cpu_limit(p.pid)))
    p.stdin.close()
    p.wait(10)
finally:
    env.close()
done()
