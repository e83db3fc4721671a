"""serve: caps per address, in total and before login; refusal text and log lines."""
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, free_port, make_msg, wait_port  # noqa: E402


def connect(port, src="127.0.0.1"):
    s = socket.socket()
    s.settimeout(5)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s, s.recv(512).decode(errors="replace")


def login(s, user, password):
    s.sendall(("USER %s\r\nPASS %s\r\n" % (user, password)).encode())
    data = b""
    while data.count(b"\r\n") < 2:
        chunk = s.recv(512)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def accepted_eventually(port, src="127.0.0.1"):
    """A slot freed by a closed session comes back once serve has reaped the child."""
    end = time.time() + 5
    while time.time() < end:
        s, greeting = connect(port, src)
        s.close()
        if greeting.startswith("+OK"):
            return True
        time.sleep(0.05)
    return False


def per_ip():
    env = Env("max_per_ip 2\nmax_children 10\nmax_unauth 10\n")
    try:
        port = env.serve()
        env.wait_idle()
        a, ga = connect(port)
        b, gb = connect(port)
        c, gc = connect(port)
        check("two sessions from one address accepted", ga.startswith("+OK") and gb.startswith("+OK"))
        check("third from the same address refused with [SYS/TEMP]",
              gc == "-ERR [SYS/TEMP] too many connections\r\n", gc)
        d, gd = connect(port, "127.0.0.2")
        check("another address still accepted", gd.startswith("+OK"), gd)
        check("refusal logged with address and cap",
              "refused 127.0.0.1: too many connections (max_per_ip)" in env.log(), env.log())
        a.close()
        check("slot comes back when a session ends", accepted_eventually(port))
        for s in (b, c, d):
            s.close()
    finally:
        env.close()


def total_and_unauth():
    env = Env("max_per_ip 10\nmax_children 3\nmax_unauth 2\n")
    try:
        env.add_user("bob", "secret")
        env.deliver("bob", make_msg(1))
        port = env.serve()
        env.wait_idle()
        a, _ = connect(port, "127.0.0.3")
        b, _ = connect(port, "127.0.0.4")
        c, gc = connect(port, "127.0.0.5")
        check("third unauthenticated session refused (max_unauth 2)",
              gc.startswith("-ERR [SYS/TEMP]") and "(max_unauth)" in env.log(), gc)
        c.close()
        reply = login(a, "bob", "secret")
        check("login in a pending session", reply.count("+OK") == 2, reply)
        time.sleep(0.3)
        c, gc = connect(port, "127.0.0.5")
        check("after that login a new session fits under max_unauth", gc.startswith("+OK"), gc)
        d, gd = connect(port, "127.0.0.6")
        check("fourth session refused by max_children 3",
              gd.startswith("-ERR [SYS/TEMP]") and "(max_children)" in env.log(), gd)
        for s in (a, b, c, d):
            s.close()
    finally:
        env.close()


def privileges():
    if os.getuid() != 0:
        return
    env = Env()
    try:
        port = env.serve()
        env.wait_idle()
        s, _ = connect(port)
        time.sleep(0.2)
        serve = str(env.procs[0].pid)
        with open("/proc/%s/task/%s/children" % (serve, serve)) as f:
            pids = f.read().split()
        uids = []
        for pid in pids + [serve]:
            with open("/proc/%s/status" % pid) as f:
                uids += [line.split()[1:] for line in f if line.startswith("Uid:")]
        check("listener and session run as nobody after binding as root",
              len(uids) == 2 and all(u == ["65534"] * 4 for u in uids), uids)
        s.close()
    finally:
        env.close()


def dual_stack():
    env = Env()
    try:
        port = free_port()
        env.serve("listen=[::1]:%d pop3" % port, port=port)
        s6 = socket.create_connection(("::1", port), 5)
        s6.settimeout(5)
        g6 = s6.recv(512).decode(errors="replace")
        s4, g4 = connect(port)
        check("same port on 127.0.0.1 and [::1] (IPV6_V6ONLY)", g4.startswith("+OK") and
              g6.startswith("+OK"), (g4, g6))
        check("IPv6 listener logged", "listening on [::1]:%d pop3" % port in env.log(), env.log())
        s6.close()
        s4.close()
    finally:
        env.close()


def imap_refusal():
    env = Env("max_per_ip 1\n")
    try:
        port = free_port()
        pop3 = env.serve("listen=127.0.0.1:%d imap" % port)
        env.wait_idle()
        a, ga = connect(port)
        b, gb = connect(port)
        c, gc = connect(pop3)
        check("IMAP listener from serve greets", ga.startswith("* OK"), ga)
        check("IMAP over the cap gets an untagged BYE [UNAVAILABLE]",
              gb == "* BYE [UNAVAILABLE] too many connections\r\n", gb)
        check("the cap counts sessions of every listener", gc.startswith("-ERR [SYS/TEMP]"), gc)
        for s in (a, b, c):
            s.close()
    finally:
        env.close()


def bad_start():
    env = Env()
    try:
        r = subprocess.run(env.cmd("-o", "max_per_ip=0", "serve", "-f"), timeout=10,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        err = r.stderr.decode(errors="replace")
        check("bad -o value: exit 64 naming the key", r.returncode == 64 and
              "-o max_per_ip: 0 out of range" in err, (r.returncode, err))
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = subprocess.run(env.cmd("-o", "listen=127.0.0.1:%d pop3" % port, "serve", "-f"),
                           timeout=10, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        err = r.stderr.decode(errors="replace")
        check("port in use: exit 71 with the address", r.returncode == 71 and
              "cannot listen on 127.0.0.1:%d" % port in err, (r.returncode, err))
        busy.close()
        if os.getuid() == 0:
            r = subprocess.run(env.cmd("-o", "listen=127.0.0.1:%d pop3" % free_port(), "-o",
                                       "user=nosuchuser", "serve"), timeout=10,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            err = r.stderr.decode(errors="replace")
            check("unknown run user: exit 71 before detaching", r.returncode == 71 and
                  "run user 'nosuchuser' does not exist" in err, (r.returncode, err))
        with open(env.conf, "a") as f:
            f.write("listen 127.0.0.1:0 pop3\n")
        r = subprocess.run(env.cmd("serve", "-f"), timeout=10, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        err = r.stderr.decode(errors="replace")
        check("bad config line: exit 64 naming file, line and key", r.returncode == 64 and
              "%s:7: listen: port 0" % env.conf in err, (r.returncode, err))
    finally:
        env.close()


def daemon():
    env = Env()
    try:
        port = free_port()
        r = subprocess.run(env.cmd("-o", "listen=127.0.0.1:%d pop3" % port, "-o", "log=syslog",
                                   "serve"), timeout=10)
        check("serve without -f returns at once with 0", r.returncode == 0, r.returncode)
        check("the daemon listens", wait_port(port))
        s, g = connect(port)
        s.close()
        check("the daemon answers", g.startswith("+OK"), g)
        out = subprocess.run(["pgrep", "-f", "%s .*listen=127.0.0.1:%d pop3 .*serve$" %
                              (env.conf, port)], stdout=subprocess.PIPE).stdout.split()
        check("one daemon process", len(out) == 1, out)
        for pid in out:
            os.kill(int(pid), 15)
    finally:
        env.close()


per_ip()
total_and_unauth()
privileges()
dual_stack()
imap_refusal()
bad_start()
daemon()
done()
