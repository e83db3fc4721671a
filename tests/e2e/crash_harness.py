"""Crash harness: each writing operation is killed with SIGKILL (strace injection, on
entry to the call, before it runs) at its mutating system calls: deliver, IMAP APPEND,
COPY, MOVE, STORE (with a new keyword), STORE \\Deleted + EXPUNGE, POP3 DELE + QUIT,
compaction (`check --compact`: bytes moved down by a large gap in a journal-free round,
by a small gap in a round that copies its overlap into the journal first, and dead bytes
at the end only: a plain truncation) and `check --repair`. The points are counted first by a
run under strace without a kill (calls: write, pwrite64, writev, fsync, fdatasync,
ftruncate, rename, unlink, link, openat). After each kill, from the same starting state:
- a session opened right after the kill (SELECT within a generous bound) that listed a
  UID serves exactly that message after a later deliver, or answers it as gone when it
  is gone: never another message's bytes;
- a fresh IMAP session sees one of the states the operation allows: before it or after
  it when not acknowledged, after it when acknowledged (bytes and flags of every old
  UID; new UIDs above the old ones with the new bytes), then the later delivery;
- POP3 lists the same messages in the same order, and a UIDL seen before names the
  same bytes;
- `check` of every folder says consistent.
The points tried are sampled evenly (every sync, rename, link, unlink and truncate,
some writes and opens) unless CRASH_FULL=1 (`make soak`): all of them."""
import os
import poplib
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, make_msg  # noqa: E402
from crashlib import (IMAP, MUTATING, POP3, Session, expunge_kept, imap_login,  # noqa: E402
                      pop3_login, strace_prefix)

FULL = os.environ.get("CRASH_FULL") == "1"
SAMPLE_OTHER = 6        # writes/opens tried per operation when sampling
SELECT_BOUND = 10.0     # seconds: generous, the point is "no stall", not speed
SYS_FLAGS = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")

env = Env()
env.add_user("alice", "secret")
udir = os.path.join(env.mail, "alice")
box = env.inbox("alice")
club = os.path.join(udir, "Club")
violations = []
tried = {}
slowest = [0.0]         # the slowest next SELECT (login to its OK) seen, in seconds


def big_msg(n, lines):
    return make_msg(n, "big %d" % n, body_lines=lines)


# ---- sessions ----

open_sessions = []


def imap():
    s, m = imap_login(env)
    open_sessions.append(s)
    return s, m


def parse_flags(resp):
    i = resp.find(b"FLAGS (")
    if i < 0:
        return frozenset()
    j = resp.index(b")", i)
    return frozenset(f for f in resp[i + 7:j].decode().split() if f != "\\Recent")


def folder_state(m, name):
    """{uid: (bytes, flags)} of a folder through an IMAP session."""
    typ, _ = m.select(name)
    if typ != "OK":
        return None
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
    st = {}
    for d in data:
        if isinstance(d, tuple):
            head = d[0]
            uid = int(head.split(b"UID ")[1].split()[0].rstrip(b")"))
            st[uid] = (d[1].replace(b"\r\n", b"\n"), parse_flags(head))
    return st


def pop3_list():
    """[(uidl, bytes)] in POP3 order."""
    s, p = pop3_login(env)
    out = []
    for line in p.uidl()[1]:
        n, u = line.split()
        out.append((u, b"\n".join(p.retr(int(n))[1]) + b"\n"))
    p.quit()
    s.wait()
    return out


def run_check(*args):
    r = subprocess.run(env.cmd("check", *args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return r.returncode, r.stdout.decode()


# ---- starting states ----

snaps = os.path.join(env.dir, "snaps")
os.makedirs(snaps)


def save(name):
    subprocess.run(["cp", "-a", udir, os.path.join(snaps, name)], check=True)


def restore(name):
    """Put the saved files back in place: same inodes (the index records the mbox's),
    contents, modes and mtimes; files not in the snapshot go."""
    src = os.path.join(snaps, name)
    keep = set()
    for d, _dirs, files in os.walk(src):
        rel = os.path.relpath(d, src)
        tdir = os.path.normpath(os.path.join(udir, rel))
        keep.add(tdir)
        if not os.path.isdir(tdir):
            os.makedirs(tdir)
        st = os.stat(d)
        os.chown(tdir, st.st_uid, st.st_gid)
        for f in files:
            sp, tp = os.path.join(d, f), os.path.join(tdir, f)
            keep.add(tp)
            st = os.stat(sp)
            with open(sp, "rb") as a:
                data = a.read()
            if os.path.islink(tp) or (os.path.exists(tp) and not os.path.isfile(tp)):
                os.unlink(tp)
            fd = os.open(tp, os.O_WRONLY | os.O_CREAT, st.st_mode & 0o7777)
            os.write(fd, data)
            os.ftruncate(fd, len(data))
            os.fchown(fd, st.st_uid, st.st_gid)
            os.close(fd)
            os.utime(tp, ns=(st.st_atime_ns, st.st_mtime_ns))
    for d, dirs, files in os.walk(udir, topdown=False):
        for f in files + dirs:
            p = os.path.join(d, f)
            if p not in keep:
                shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)


inbox_msgs = [make_msg(i, "harness %d" % i, body_lines=20) for i in range(1, 7)]
inbox_msgs.insert(3, big_msg(100, 6000))
for msg in inbox_msgs:
    env.deliver("alice", msg)
s, m = imap()
m.create("Club")
m.append("Club", None, None, make_msg(200, "club one"))
m.select("INBOX")
m.uid("STORE", "1", "+FLAGS", "(\\Seen)")
m.logout()
s.wait()
save("base")

# dead bytes for the compaction: expunged while another session is open and reading
expunge_kept(env, "2:4")
save("dead")

# a small gap (one small message): the round moving the rest is longer than the gap and
# copies its overlap into the journal first
restore("base")
expunge_kept(env, "2")
save("deadsmall")

# dead bytes at the end only: the compaction is a truncation, without a journal
restore("base")
expunge_kept(env, "4:7")
save("deadtail")

# a torn record at the end of the state file: check --repair rebuilds it
restore("base")
with open(os.path.join(udir, ".mailnook", "INBOX.idx"), "ab") as f:
    f.write(b"\x02\x00\x10\x00torn")
save("torn")


def states_of(snap):
    restore(snap)
    s, m = imap()
    st = {"INBOX": folder_state(m, "INBOX"), "Club": folder_state(m, "Club")}
    m.logout()
    s.wait()
    return st


# ---- operations: each returns (acknowledged steps, [state after k steps], and
# optionally {step: [partial states that step may leave when not acknowledged]}) ----
# A state is {folder: (known {uid: (bytes, flags)}, [new bytes in order])}.

def derive(base, **changes):
    st = {f: (dict(k), list(n)) for f, (k, n) in base.items()}
    for f, fn in changes.items():
        fn(st[f])
    return st


def drop(uids):
    def fn(s):
        for u in uids:
            s[0].pop(u, None)
    return fn


def add_new(b):
    def fn(s):
        s[1].append(b)
    return fn


def set_flags(uid, more):
    def fn(s):
        b, fl = s[0][uid]
        s[0][uid] = (b, fl | frozenset(more))
    return fn


def steps_imap(kill, trace, cmds):
    """Run IMAP commands (functions of the session) in one killed/traced session;
    the number of commands acknowledged OK."""
    s = Session(env, "imap", trace=trace, kill=kill, out=trace_log)
    acked = 0
    try:
        m = IMAP(s)
        m.login("alice", "secret")
        for c in cmds:
            if c(m) != "OK":
                break
            acked += 1
        m.logout()
    except (OSError, EOFError, IMAP.abort, IMAP.error):
        pass
    s.wait()
    return acked


def op_deliver(kill, trace, base):
    msg = make_msg(300, "delivered under strace")
    r = subprocess.run(strace_prefix(trace, kill, trace_log) + env.cmd("deliver", "alice"),
                       input=msg, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (1 if r.returncode == 0 else 0), [base, derive(base, INBOX=add_new(msg))]


def op_append(kill, trace, base):
    msg = make_msg(301, "appended under strace")
    a = steps_imap(kill, trace, [lambda m: m.append("INBOX", "(\\Flagged)", None, msg)[0]])
    return a, [base, derive(base, INBOX=add_new(msg))]


def op_copy(kill, trace, base):
    a = steps_imap(kill, trace, [lambda m: m.select("INBOX")[0],
                                 lambda m: m.uid("COPY", "2", "Club")[0]])
    b = base["INBOX"][0][2][0]
    return a, [base, base, derive(base, Club=add_new(b))]


def op_move(kill, trace, base):
    a = steps_imap(kill, trace, [lambda m: m.select("INBOX")[0],
                                 lambda m: m.uid("MOVE", "3", "Club")[0]])
    b = base["INBOX"][0][3][0]
    moved = derive(base, INBOX=drop([3]), Club=add_new(b))
    # unacknowledged, a MOVE may also stop half way: copied, not yet removed
    return a, [base, base, moved], {2: [derive(base, Club=add_new(b))]}


def op_store(kill, trace, base):
    a = steps_imap(kill, trace, [lambda m: m.select("INBOX")[0],
                                 lambda m: m.uid("STORE", "5", "+FLAGS",
                                                 "(\\Answered NewKeyword)")[0]])
    return a, [base, base, derive(base, INBOX=set_flags(5, ["\\Answered", "NewKeyword"]))]


def op_expunge(kill, trace, base):
    a = steps_imap(kill, trace, [lambda m: m.select("INBOX")[0],
                                 lambda m: m.uid("STORE", "2,6", "+FLAGS", "(\\Deleted)")[0],
                                 lambda m: m.expunge()[0]])
    flagged = derive(base, INBOX=lambda s: (set_flags(2, ["\\Deleted"])(s),
                                            set_flags(6, ["\\Deleted"])(s)))
    # unacknowledged, a STORE of two messages may have reached the first only
    return a, [base, base, flagged, derive(flagged, INBOX=drop([2, 6]))], \
        {2: [derive(base, INBOX=set_flags(2, ["\\Deleted"]))]}


def op_pop3(kill, trace, base):
    s = Session(env, "pop3", trace=trace, kill=kill, out=trace_log)
    acked = 0
    try:
        p = POP3(s)
        p.user("alice")
        p.pass_("secret")
        p.dele(1)
        p.dele(2)
        p.quit()
        acked = 1
    except (OSError, EOFError, poplib.error_proto):
        pass
    s.wait()
    first_two = sorted(base["INBOX"][0])[:2]
    return acked, [base, derive(base, INBOX=drop(first_two))]


def op_compact(kill, trace, base):
    r = subprocess.run(strace_prefix(trace, kill, trace_log) +
                       env.cmd("check", "--compact", "alice"),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (1 if r.returncode == 0 else 0), [base, base]


def op_repair(kill, trace, base):
    r = subprocess.run(strace_prefix(trace, kill, trace_log) +
                       env.cmd("check", "--repair", "alice"),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (1 if r.returncode in (0, 1) else 0), [base, base]


OPS = [("deliver", op_deliver, "base"), ("APPEND", op_append, "base"),
       ("COPY", op_copy, "base"), ("MOVE", op_move, "base"), ("STORE", op_store, "base"),
       ("EXPUNGE", op_expunge, "base"), ("POP3 DELE+QUIT", op_pop3, "base"),
       ("compaction journal-free", op_compact, "dead"),
       ("compaction with copy", op_compact, "deadsmall"),
       ("truncating compaction", op_compact, "deadtail"),
       ("check --repair", op_repair, "torn")]
trace_log = os.path.join(env.dir, "trace.log")


# ---- verification ----

def matches(actual, state, later):
    """Does a folder's {uid: (bytes, flags)} show state (known, new) + later bytes?"""
    known, new = state
    first_new = max(list(known) + [0]) + 1
    old = {u: v for u, v in actual.items() if u in known or u < first_new}
    fresh = [actual[u][0] for u in sorted(actual) if u not in old]
    return old == known and fresh == new + later


def allowed_states(res):
    """After acknowledged steps, that state or the next (the step in flight done or
    not), and the partial states the step in flight may leave (res[2]: by step)."""
    acked, states = res[0], res[1]
    extra = res[2] if len(res) > 2 else {}
    return states[acked:acked + 2] + extra.get(acked + 1, [])


def verify(name, point, res, base_state, uidls):
    where = "%s killed at %s #%d" % (name, point[0], point[1])
    try:
        verify_at(where, res, uidls)
    except Exception as e:  # a stalled or broken session is a finding, not a crash
        violations.append("%s: %s %s" % (where, type(e).__name__, e))
    for s in open_sessions:
        s.wait(1)
    del open_sessions[:]


def pop3_retr_all(p, n):
    out = []
    for i in range(1, n + 1):
        try:
            out.append(b"\n".join(p.retr(i)[1]) + b"\n")
        except poplib.error_proto:
            out.append(None)
    return out


def verify_at(where, res, uidls):
    allow = allowed_states(res)
    # A POP3 session open across the next delivery: it never re-reads the index.
    sp, pb = pop3_login(env)
    open_sessions.append(sp)
    pop_before = pop3_retr_all(pb, pb.stat()[0])
    t0 = time.monotonic()
    sb, b = imap()
    typ, _ = b.select("INBOX")
    t = time.monotonic() - t0
    slowest[0] = max(slowest[0], t)
    if typ != "OK" or t > SELECT_BOUND:
        violations.append("%s: next SELECT %s after %.1f s" % (where, typ, t))
    listed = sorted(folder_state(b, "INBOX") or {})
    b.select("INBOX")
    later = make_msg(900, "delivered after the kill of %s" % where)
    if env.deliver("alice", later) != 0:
        violations.append("%s: the next deliver failed" % where)
    s, m = imap()
    actual = {f: folder_state(m, f) for f in ("INBOX", "Club")}
    m.logout()
    s.wait()
    for u in listed:
        typ, data = b.uid("FETCH", str(u), "(BODY.PEEK[])")
        got = [d[1].replace(b"\r\n", b"\n") for d in data if isinstance(d, tuple)]
        want = actual["INBOX"].get(u)
        if (want is None and got) or (want is not None and got != [want[0]]):
            violations.append("%s: a session open across it served UID %d wrong" % (where, u))
    b.logout()
    sb.wait()
    for i, (was, now) in enumerate(zip(pop_before, pop3_retr_all(pb, len(pop_before)))):
        if now is not None and now != was:
            violations.append("%s: a POP3 session open across it served message %d wrong"
                              % (where, i + 1))
    pb.quit()
    sp.wait()
    if not any(all(matches(actual[f] or {}, st[f], [later] if f == "INBOX" else [])
                   for f in st) for st in allow):
        violations.append("%s: state after it (%d steps acknowledged) not one the operation "
                          "allows: %s" % (where, res[0], {f: {u: sorted(v[1]) for u, v in
                                                              (actual[f] or {}).items()}
                                                          for f in actual}))
    pl = pop3_list()
    imap_bodies = [actual["INBOX"][u][0] for u in sorted(actual["INBOX"])]
    if [b_ for _u, b_ in pl] != imap_bodies:
        violations.append("%s: POP3 and IMAP disagree" % where)
    for u, b_ in pl:
        if u in uidls and uidls[u] != b_:
            violations.append("%s: UIDL %s names other bytes" % (where, u.decode()))
    for folder in ("alice", club):
        rc, out = run_check(folder)
        if rc != 0 or "result: consistent" not in out:
            violations.append("%s: check %s: %s" % (where, folder, out.strip()[-200:]))


def points_of(name, fn, snap, base_state):
    restore(snap)
    if os.path.exists(trace_log):
        os.unlink(trace_log)
    res = fn(None, MUTATING, base_state)
    counts = {}
    for line in open(trace_log, errors="replace"):
        call = line.split(None, 1)[1].split("(", 1)[0] if " " in line else ""
        if call in MUTATING:
            counts[call] = counts.get(call, 0) + 1
    if os.environ.get("CRASH_SHOW"):
        shutil.copy(trace_log, "%s.%s" % (trace_log, name.split()[0]))
    pts = []
    for call in sorted(counts):
        n = counts[call]
        if FULL or call not in ("write", "openat", "pwrite64", "writev"):
            pts += [(call, i) for i in range(1, n + 1)]
        else:
            step = max(1, n // SAMPLE_OTHER)
            pts += [(call, i) for i in range(1, n + 1, step)]
    return res, pts, sum(counts.values())


start = time.monotonic()
only = os.environ.get("CRASH_OPS")  # e.g. CRASH_OPS=APPEND,deliver to look at a few
for name, fn, snap in OPS:
    if only and name not in only.split(","):
        continue
    base_state = states_of(snap)
    base = {f: (base_state[f], []) for f in base_state}
    uidls = dict(pop3_list())
    res, pts, total = points_of(name, fn, snap, base)
    if os.environ.get("CRASH_SHOW"):
        print("# %s points: %s" % (name, pts))
    check("%s runs to its end under strace" % name, res[0] == len(res[1]) - 1, res[0])
    before = len(violations)
    for pt in pts:
        if os.environ.get("CRASH_POINT") and os.environ["CRASH_POINT"] != "%s:%d" % pt:
            continue
        restore(snap)
        r = fn(pt, None, base)
        verify(name, pt, r, base, uidls)
    tried[name] = (len(pts), total, len(violations) - before)
    check("%s: %d of %d kill points, no violation" % (name, len(pts), total),
          len(violations) == before, violations[before:before + 5])

print("# kill points tried: %d of %d, violations: %d, slowest next SELECT %.2f s, %.0f s" %
      (sum(v[0] for v in tried.values()), sum(v[1] for v in tried.values()),
       len(violations), slowest[0], time.monotonic() - start))
for v in violations:
    print("# " + v)
env.close()
done()
