"""Failed logins are counted per (address, user) and per address: alice logging in from
an address while someone guesses at bob from it does not lift bob's delay (it used to
reset the address's count). Two real sessions against serve; delays read from the debug
log, not timed."""
import os
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, make_msg  # noqa: E402


class Pop:
    def __init__(self, port, src):
        self.s = socket.socket()
        self.s.settimeout(60)
        self.s.bind((src, 0))
        self.s.connect(("127.0.0.1", port))
        self.f = self.s.makefile("rb")
        self.f.readline()

    def cmd(self, line):
        self.s.sendall(line.encode() + b"\r\n")
        return self.f.readline().decode(errors="replace")


def delays(log):
    return [int(m) for m in re.findall(r"login delay (\d+)ms for 127\.0\.0\.7", log)]


env = Env("debug yes\n")
try:
    env.add_user("alice", "secret")
    env.add_user("bob", "hunter2")
    env.deliver("alice", make_msg(1))
    port = env.serve()
    guesser = Pop(port, "127.0.0.7")
    for pw in ("guess1", "guess2"):
        guesser.cmd("USER bob")
        r = guesser.cmd("PASS " + pw)
    check("two wrong guesses at bob refused", r.startswith("-ERR [AUTH]"), r)
    alice = Pop(port, "127.0.0.7")
    alice.cmd("USER alice")
    r = alice.cmd("PASS secret")
    check("alice logs in from the same address meanwhile", r.startswith("+OK"), r)
    guesser.cmd("USER bob")
    r = guesser.cmd("PASS guess3")
    check("third guess at bob refused", r.startswith("-ERR [AUTH]"), r)
    d = delays(env.log())
    check("bob's delays keep doubling across alice's login: %s ms" % d, d == [1000, 2000, 4000])
    alice.cmd("QUIT")
    other = Pop(port, "127.0.0.8")
    other.cmd("USER bob")
    other.cmd("PASS guess4")
    check("another address starts at the base delay",
          "login delay 1000ms for 127.0.0.8" in env.log(), env.log()[-800:])
    guesser.cmd("USER bob")
    guesser.cmd("PASS hunter2")
    guesser.cmd("QUIT")
    guesser = Pop(port, "127.0.0.7")
    guesser.cmd("USER bob")
    guesser.cmd("PASS wrong")
    d = delays(env.log())
    check("bob's own login forgets bob's failures (the address's 4 count as 1): %s" % d,
          d[-1] == 1000)
finally:
    env.close()
done()
