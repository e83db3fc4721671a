"""serve: SIGTERM lets running sessions finish; SIGHUP re-reads the config; passwd changes
apply to the next login without any signal."""
import os
import poplib
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, make_msg  # noqa: E402


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


def sigterm():
    env = Env()
    try:
        env.add_user("bob", "secret")
        env.deliver("bob", make_msg(1, "first"))
        port = env.serve()
        p = poplib.POP3("127.0.0.1", port, timeout=5)
        p.user("bob")
        p.pass_("secret")
        serve = env.procs[0]
        serve.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        check("after SIGTERM no new connections", refused(port))
        check("serve still runs while a session is open", serve.poll() is None)
        count, _ = p.stat()
        _, lines, _ = p.retr(1)
        check("the open session still works", count == 1 and b"Subject: first" in lines)
        p.quit()
        try:
            rc = serve.wait(5)
        except Exception:
            rc = None
        check("serve exits 0 once the last session ended", rc == 0, rc)
        log = env.log()
        check("stop logged", "stopping: no new connections, waiting for 1 sessions" in log and
              "stopped" in log, log)
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
sighup()
done()
