"""With `log stderr`, each log line leaves in exactly one write() (strace counts them),
so lines of concurrent sessions never interleave: 40 sessions at once against serve
leave only whole lines."""
import os
import re
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, make_msg  # noqa: E402

LONG = "u" * 60   # a valid name long enough that its log lines pass 80 bytes

env = Env("max_children 100\nmax_per_ip 100\nmax_unauth 100\n")
try:
    env.add_user("alice", "secret")
    env.deliver("alice", make_msg(1))
    trace = os.path.join(env.dir, "trace")
    r = subprocess.run(["strace", "-f", "-qq", "-e", "trace=write,writev,pwrite64",
                        "-e", "signal=none", "-o", trace] + env.cmd("pop3"),
                       env=dict(os.environ, TCPREMOTEIP="127.0.0.1"), timeout=60,
                       input=("USER %s\r\nPASS nope\r\nUSER alice\r\nPASS secret\r\nSTAT\r\n"
                              "QUIT\r\n" % LONG).encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    lines = r.stderr.decode(errors="replace").splitlines()
    with open(trace) as f:
        calls = [ln for ln in f if re.match(r"^\d+\s+(write|writev)\(2,", ln)]
    check("pop3 session logged its lines (%d), the long ones included" % len(lines),
          len(lines) >= 4 and any(len(x) > 100 for x in lines), lines)
    check("one write() per log line (%d calls for %d lines)" % (len(calls), len(lines)),
          len(calls) == len(lines) and all(re.match(r"^\d+\s+write\(2,", c) for c in calls),
          calls)

    port = env.serve()
    env.wait_idle()

    def one(i):
        try:
            s = socket.create_connection(("127.0.0.1", port), 60, ("127.0.1.%d" % (i + 1), 0))
            f = s.makefile("rb")
            f.readline()
            for line in ("USER %s%d" % (LONG, i), "PASS x", "QUIT"):
                s.sendall(line.encode() + b"\r\n")
                f.readline()
            s.close()
        except OSError as e:
            print("# session %d: %s" % (i, e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    env.wait_idle()
    log = env.log().splitlines()
    bad = [x for x in log if not re.match(r"^mailnook\[\d+\]: ", x) or x.count("mailnook[") != 1]
    failed = [x for x in log if "login failed user=%s" % LONG in x]
    check("40 concurrent sessions: %d log lines, every one whole" % len(log),
          not bad and len(failed) == 40, bad[:5] or len(failed))
finally:
    env.close()
done()
