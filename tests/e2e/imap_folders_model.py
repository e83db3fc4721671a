"""Random CREATE/DELETE/RENAME/APPEND on a small folder tree (INBOX children included),
each answer and, every few steps, LIST "" * with its attributes and every folder's
message count compared with a simple in-memory model of RFC 3501's rules for folders
that hold both mail and children: on a fresh account, and on a store written by 0.1.0
(plain-directory parents). A fixed number of steps; the seed is printed and MODEL_SEED
repeats a run."""
import imaplib
import os
import random
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, free_port, make_msg  # noqa: E402

STEPS = 300
SEED = int(os.environ.get("MODEL_SEED", random.randrange(1 << 30)))
print("# seed %d" % SEED)
rnd = random.Random(SEED)
FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "store_v1", "alice")
env = Env()
env.add_user("m", "secret")
env.add_user("alice", "secret")
shutil.copytree(FIXTURE, os.path.join(env.mail, "alice"), symlinks=True)
if os.getuid() == 0:
    subprocess.run(["chown", "-R", env.run_user, os.path.join(env.mail, "alice")], check=True)
PORT = free_port()
env.serve("listen=127.0.0.1:%d imap" % PORT, "folder_sent=", "folder_drafts=",
          "folder_trash=", "folder_junk=", "folder_archive=")
LINE = re.compile(rb'^\(([^)]*)\) "/" (.*)$')


class Model:
    def __init__(self):
        self.mail = {"INBOX": 0}   # selectable folders and their message counts
        self.bare = set()          # \Noselect parents

    def exists(self, n):
        return n in self.mail or n in self.bare

    def kids(self, n):
        return any(k.startswith(n + "/") for k in list(self.mail) + list(self.bare))

    def add_parents(self, n):
        parts = n.split("/")
        for i in range(1, len(parts)):
            p = "/".join(parts[:i])
            if not self.exists(p):
                self.bare.add(p)

    def create(self, n):
        if n in self.mail:
            return False
        self.bare.discard(n)
        self.mail[n] = 0
        self.add_parents(n)
        return True

    def delete(self, n):
        if n in self.mail:
            del self.mail[n]
            if self.kids(n):
                self.bare.add(n)
            return True
        if n in self.bare and not self.kids(n):
            self.bare.discard(n)
            return True
        return False

    def rename(self, a, b):
        if not self.exists(a) or self.exists(b) or b.startswith(a + "/"):
            return False
        moved = {}
        for k in list(self.mail):
            if k == a or k.startswith(a + "/"):
                moved[b + k[len(a):]] = self.mail.pop(k)
        bare = {b + k[len(a):] for k in self.bare if k == a or k.startswith(a + "/")}
        self.bare -= {k for k in self.bare if k == a or k.startswith(a + "/")}
        self.mail.update(moved)
        self.bare |= bare
        self.add_parents(b)
        return True

    def append(self, n):
        if n not in self.mail:
            return False
        self.mail[n] += 1
        return True

    def listing(self):
        out = {}
        for n in list(self.mail) + list(self.bare):
            attrs = {"\\HasChildren" if self.kids(n) else "\\HasNoChildren"}
            if n in self.bare:
                attrs.add("\\Noselect")
            out[n] = attrs
        return out


def name(levels):
    depth = rnd.choice((1, 1, 2, 2, 3))
    parts = [rnd.choice(levels) for _ in range(depth)]
    if rnd.random() < 0.2:
        parts[0] = "INBOX"
    return "/".join(parts)


def server_listing(c):
    typ, _ = c._simple_command("LIST", '""', "*")
    out = {}
    for line in c.untagged_responses.pop("LIST", []):
        m = LINE.match(line)
        if m:
            out[m.group(2).strip(b'"').decode()] = set(m.group(1).decode().split())
    return out


def run(user, model, levels):
    """STEPS random operations as user; True when all agree with model."""
    c = imaplib.IMAP4("127.0.0.1", PORT)
    c.login(user, "secret")
    for step in range(1, STEPS + 1):
        op = rnd.choice(("create", "create", "delete", "rename", "append", "append"))
        a, b = name(levels), name(levels)
        if op == "create":
            want, typ = model.create(a), c.create(a)[0]
        elif op == "delete":
            if a == "INBOX":
                continue
            want, typ = model.delete(a), c.delete(a)[0]
        elif op == "rename":
            if "INBOX" in (a, b):
                continue
            want, typ = model.rename(a, b), c.rename(a, b)[0]
        else:
            want = model.append(a)
            typ = c.append(a, None, None, make_msg(step, a, 1).replace(b"\n", b"\r\n"))[0]
        what = "%s step %d: %s %s%s" % (user, step, op.upper(), a,
                                        " " + b if op == "rename" else "")
        if (typ == "OK") != want:
            return check(what + " answers " + ("OK" if want else "NO"), False, typ)
        if step % 10 == 0 or step == STEPS:
            got = server_listing(c)
            if got != model.listing():
                return check("%s step %d: LIST matches the model" % (user, step), False,
                             (got, model.listing()))
            counts = {n: int(re.search(rb"MESSAGES (\d+)", c.status(n, "(MESSAGES)")[1][0])
                             .group(1)) for n in model.mail}
            if counts != model.mail:
                return check("%s step %d: message counts match" % (user, step), False,
                             (counts, model.mail))
    c.logout()
    return check("%s: %d steps agree with the model (seed %d, %d folders at the end)"
                 % (user, STEPS, SEED, len(model.mail) + len(model.bare)), True)


try:
    run("m", Model(), "abc")
    old = Model()
    old.mail.update({"INBOX": 2, "Archive": 1, "Club/Q1": 2, "Work/Projects/2026": 1,
                     "Drafts": 0, "Junk": 0, "Sent": 0, "Trash": 0})
    old.bare |= {"Club", "Work", "Work/Projects"}
    run("alice", old, ("Club", "Q1", "Work", "Projects", "2026", "x"))
except Exception as e:  # a protocol error is a failure, not a crash of the runner
    check("no exception (seed %d)" % SEED, False, repr(e))
finally:
    env.close()
done()
