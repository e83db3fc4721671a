"""mbsync two-way syncs of INBOX, again and again, while another IMAP session stays open
and flags, sets keywords, expunges and appends at the same time, and the local side flags
and deletes between runs. Whatever the interleaving: every mbsync run succeeds, a last
run leaves server and Maildir the same messages with the same flags, nothing is
duplicated or lost, and every keyword the other session set is still stored (mbsync's
own flag changes never wrote back a stale copy)."""
import os
import random
import re
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from imapc import SUBJ_RE, Session, fetches, stored, uid_code  # noqa: E402
from lib import Env, check, done, free_port, make_msg  # noqa: E402

SEED = int(os.environ.get("SYNC_SEED", "7"))
ROUNDS = 8
MAILDIR_FLAGS = {"S": "\\Seen", "R": "\\Answered", "F": "\\Flagged", "T": "\\Deleted", "D": "\\Draft"}

env = Env()
env.add_user("alice", "secret")
for i in range(12):
    env.deliver("alice", make_msg(i, "d%d" % i))
PORT = free_port()
env.serve("listen=127.0.0.1:%d imap" % PORT, "plaintext_auth=anywhere")
M = os.path.join(env.dir, "maildir")
os.makedirs(M)
rc = os.path.join(env.dir, "mbsyncrc")
with open(rc, "w") as f:
    f.write("IMAPAccount mn\nHost 127.0.0.1\nPort %d\nUser alice\nPass secret\nSSLType None\n"
            "AuthMechs LOGIN\n\nIMAPStore remote\nAccount mn\n\nMaildirStore local\nPath %s/\n"
            "Inbox %s/INBOX\n\nChannel ch\nFar :remote:\nNear :local:\nPatterns INBOX\n"
            "Create Both\nRemove None\nExpunge Both\nSyncState *\n" % (PORT, M, M))
print("# sync loop seed %d" % SEED)


def mbsync():
    r = subprocess.run(["mbsync", "-c", rc, "-a"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120, env=dict(os.environ, HOME=env.dir))
    return r.returncode, r.stdout.decode(errors="replace")


def server():
    """{subject: flags} of INBOX as stored, the subjects in UID order, {uid: subject}."""
    st = stored(PORT)
    order = [st[uid][1] for uid in sorted(st)]
    return {subj: set(fl) for fl, subj in st.values()}, order, {uid: x[1] for uid, x in st.items()}


def local_files():
    out = []
    for sub in ("cur", "new"):
        d = os.path.join(M, "INBOX", sub)
        for name in os.listdir(d) if os.path.isdir(d) else []:
            path = os.path.join(d, name)
            with open(path, "rb") as f:
                m = re.search(rb"^Subject: (\S+)", f.read(), re.M)
            fl = name.split(":2,", 1)[1] if ":2," in name else ""
            out.append((path, m.group(1).decode() if m else "?", fl))
    return out


def local():
    return {subj: {MAILDIR_FLAGS[c] for c in fl if c in MAILDIR_FLAGS}
            for path, subj, fl in local_files()}


class Other(threading.Thread):
    """The phone: one open session changing INBOX until told to stop."""

    def __init__(self):
        super().__init__()
        self.stop = threading.Event()
        self.rnd = random.Random(SEED)
        self.keywords = {}      # subject -> keywords this session set (only it sets any)
        self.answered = set()   # subjects it gave \\Answered (only it sets that flag)
        self.expunged = set()
        self.ops = 0
        self.error = None

    def run(self):
        try:
            c = Session(PORT)
            c.ok("SELECT INBOX")
            n = 0
            while not self.stop.is_set() and self.ops < 3000:
                self.step(c, n)
                n += 1
            c.close()
        except Exception as e:  # reported as a failure by the main thread
            self.error = repr(e)

    def subjects(self, c):
        u, t = c.ok("UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        return {int(m.group(1)): m.group(2).decode() for m in map(SUBJ_RE.match, u) if m}

    def step(self, c, n):
        rnd = self.rnd
        subj = self.subjects(c)
        if not subj:
            c.ok("APPEND INBOX", make_msg(500 + n, "p%d" % n))
            return
        uid = rnd.choice(sorted(subj))
        r = rnd.random()
        if r < 0.6:
            # keywords, half the time on every message at once
            kw = "$k%d" % rnd.randrange(4)
            add = rnd.random() < 0.6
            every = rnd.random() < 0.5
            c.ok("UID STORE %s %sFLAGS.SILENT (%s)" % ("1:*" if every else uid, "+" if add else "-", kw))
            for s in (subj.values() if every else [subj[uid]]):
                ks = self.keywords.setdefault(s, set())
                (ks.add if add else ks.discard)(kw)
        elif r < 0.8:
            add = rnd.random() < 0.5
            c.ok("UID STORE %d %sFLAGS (\\Answered)" % (uid, "+" if add else "-"))
            (self.answered.add if add else self.answered.discard)(subj[uid])
        elif r < 0.9:
            u, t = c.ok("APPEND INBOX", make_msg(500 + n, "p%d" % n))
            if uid_code(t) is None:
                raise RuntimeError("APPEND without APPENDUID: %r" % t)
        else:
            c.ok("UID STORE %d +FLAGS (\\Deleted)" % uid)
            c.ok("UID EXPUNGE %d" % uid)
            self.expunged.add(subj[uid])
        self.ops += 1


try:
    rnd = random.Random(SEED + 1)
    code, out = mbsync()
    check("first sync", code == 0, out)
    laptop = Session(PORT)
    laptop.ok("SELECT INBOX")
    laptop_kw = {}  # subject -> $p keywords the laptop set (only it sets those)
    other = Other()
    other.start()
    codes = []
    deleted_here = set()
    pushed = {}     # subject -> flags the Maildir side set
    for r in range(ROUNDS):
        files = [f for f in local_files() if "T" not in f[2]]
        for path, subj, fl in rnd.sample(sorted(files), min(3, len(files))):
            # only this side sets \\Seen and \\Flagged, and never takes them away
            add = rnd.choice("SF" if rnd.random() < 0.9 else "T")
            if add == "T":
                deleted_here.add(subj)
            else:
                pushed.setdefault(subj, set()).add(MAILDIR_FLAGS[add])
            base = os.path.join(M, "INBOX", "cur", os.path.basename(path).split(":2,")[0])
            os.rename(path, base + ":2," + "".join(sorted(set(fl + add))))
        # the laptop: told of everything, then idle while mbsync pushes, then a change
        # to every message from its view of before the sync
        laptop.ok("NOOP")
        code, out = mbsync()
        codes.append(code)
        if code != 0:
            print(out)
        kw = "$p%d" % (r % 3)
        add = r < 3 or rnd.random() < 0.5
        u, t = laptop.ok("UID STORE 1:* %sFLAGS (%s)" % ("+" if add else "-", kw))
        by_uid = server()[2]
        for subj in {by_uid[uid] for seq, uid, fl in fetches(u) if uid in by_uid}:
            ks = laptop_kw.setdefault(subj, set())
            (ks.add if add else ks.discard)(kw)
    other.stop.set()
    other.join()
    check("the other session ran (%d changes) without error" % other.ops,
          other.error is None and other.ops > 0, other.error)
    check("every sync while the other session changed INBOX succeeded", codes == [0] * ROUNDS, codes)
    code1, out1 = mbsync()
    code2, out2 = mbsync()
    check("last syncs succeeded", code1 == 0 and code2 == 0, out1 + out2)
    srv, order, by_uid = server()
    loc = local()
    check("server and Maildir hold the same messages", set(srv) == set(loc),
          ([(x, srv[x]) for x in sorted(set(srv) - set(loc))], sorted(set(loc) - set(srv)),
           out1, out2))
    check("no message duplicated on the server", len(order) == len(set(order)), order)
    check("no message duplicated in the Maildir", len(local_files()) == len(loc))
    system = {s: {f for f in fl if f.startswith("\\")} for s, fl in srv.items()}
    check("server and Maildir agree on every flag",
          all(system[s] == loc[s] for s in srv if s in loc),
          [(s, system[s], loc.get(s)) for s in srv if system[s] != loc.get(s)][:5])
    kept = {"d%d" % i for i in range(12)} - other.expunged - deleted_here
    check("no message lost: all not deleted by either side are there", kept <= set(srv),
          sorted(kept - set(srv)))
    lost = [(s, pushed[s], srv[s]) for s in srv if s in pushed and not pushed[s] <= srv[s]]
    check("every flag mbsync pushed is stored", not lost, lost[:5])
    lost = [s for s in srv if (s in other.answered) != ("\\Answered" in srv[s])]
    check("\\Answered as the other session left it", not lost, lost[:5])
    lost = [(s, other.keywords.get(s, set()) | laptop_kw.get(s, set()), srv[s] - system[s])
            for s in srv
            if other.keywords.get(s, set()) | laptop_kw.get(s, set()) != srv[s] - system[s]]
    check("every keyword the other sessions set is stored, none they removed", not lost, lost[:5])
finally:
    env.close()
done()
