"""serve: SIGTERM closes the sessions (BYE / -ERR; one that cannot is killed after a grace);
SIGHUP re-reads the config; passwd changes apply to the next login without any signal."""
import os
import imaplib
import poplib
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, free_port, make_msg  # noqa: E402


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return False
    except OSError:
        return True


def greeting(port):
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.settimeout(5)
    g = s.recv(512).decode(errors="replace")
    return s, g


def children(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(c) for c in f.read().split()]


def gone(pid):
    """The process has exited and been reaped (or is a zombie about to be)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def poll_until(cond, bound=10.0):
    end = time.time() + bound
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def sigterm():
    """SIGTERM: listeners close, each session says BYE / -ERR and exits, serve follows."""
    env = Env()
    try:
        env.add_user("bob", "secret")
        env.deliver("bob", make_msg(1, "first"))
        iport = free_port()
        port = env.serve("listen=127.0.0.1:%d imap" % iport)
        serve = env.procs[0]
        p = poplib.POP3("127.0.0.1", port, timeout=10)
        p.user("bob")
        p.pass_("secret")
        m = imaplib.IMAP4("127.0.0.1", iport, timeout=10)
        m.login("bob", "secret")
        m.select("INBOX")
        check("two sessions open", poll_until(lambda: len(children(serve.pid)) == 2),
              children(serve.pid))
        kids = children(serve.pid)
        serve.send_signal(signal.SIGTERM)
        pline = p.file.readline()
        check("POP3 session told -ERR at SIGTERM", pline.startswith(b"-ERR"), pline)
        iline = m.readline()
        check("IMAP session told * BYE at SIGTERM", iline.startswith(b"* BYE"), iline)
        check("after SIGTERM no new connections", refused(port) and refused(iport))
        try:
            rc = serve.wait(10)
        except Exception:
            rc = None
        check("serve exits 0 once its sessions closed", rc == 0, rc)
        check("no session process left behind", poll_until(lambda: all(gone(k) for k in kids)), kids)
        log = env.log()
        check("stop logged", "stopping: no new connections, closing 2 sessions" in log and
              "stopped" in log and "killing" not in log, log)
    finally:
        env.close()


def sigterm_stuck():
    """A session that cannot close (stopped here with SIGSTOP) is killed after the grace."""
    env = Env()
    try:
        env.add_user("bob", "secret")
        port = env.serve()
        serve = env.procs[0]
        p = poplib.POP3("127.0.0.1", port, timeout=10)
        p.user("bob")
        p.pass_("secret")
        check("one session open", poll_until(lambda: len(children(serve.pid)) == 1),
              children(serve.pid))
        kid = children(serve.pid)[0]
        os.kill(kid, signal.SIGSTOP)
        serve.send_signal(signal.SIGTERM)
        try:
            rc = serve.wait(15)
        except Exception:
            rc = None
        check("serve exits 0 after killing a stuck session", rc == 0, rc)
        check("the stuck session is gone", poll_until(lambda: gone(kid)), kid)
        check("the kill logged", "stopping: killing 1 sessions that did not close" in env.log(),
              env.log())
        check("the client sees the connection end", p.file.readline() == b"")
    finally:
        env.close()


def sighup():
    env = Env("max_per_ip 5\n")
    try:
        env.add_user("bob", "secret")
        env.deliver("bob", make_msg(1))
        port = env.serve()
        p = poplib.POP3("127.0.0.1", port, timeout=5)
        p.user("bob")
        p.pass_("secret")
        p.quit()
        env.add_user("bob", "changed")
        p = poplib.POP3("127.0.0.1", port, timeout=5)
        p.user("bob")
        try:
            p.pass_("changed")
            ok_new = True
        except poplib.error_proto:
            ok_new = False
        p.quit()
        check("a new password applies to the next login", ok_new)
        with open(env.conf, "a") as f:
            f.write("max_per_ip 1\n")
        env.procs[0].send_signal(signal.SIGHUP)
        time.sleep(0.3)
        check("reload logged", "reloaded config" in env.log(), env.log())
        env.wait_idle()
        a, ga = greeting(port)
        b, gb = greeting(port)
        check("reloaded max_per_ip 1 applies", ga.startswith("+OK") and gb.startswith("-ERR [SYS/TEMP]"),
              (ga, gb))
        a.close()
        b.close()
        with open(env.conf, "a") as f:
            f.write("max_per_ip zero\n")
        env.procs[0].send_signal(signal.SIGHUP)
        time.sleep(0.3)
        check("a bad config on reload is reported and the old one kept",
              "reload failed, keeping the running config" in env.log() and
              "max_per_ip: 'zero' is not a number" in env.log() and env.procs[0].poll() is None,
              env.log())
        time.sleep(0.2)
        a, ga = greeting(port)
        check("still serving after a failed reload", ga.startswith("+OK"), ga)
        a.close()
    finally:
        env.close()


sigterm()
sigterm_stuck()
sighup()
done()
