"""Randomized two-session model check: two IMAP sessions on one folder run a seeded,
deterministic sequence of STORE (+FLAGS, -FLAGS, FLAGS, .SILENT; system flags and
keywords; by UID and by sequence number), APPEND, EXPUNGE, UID EXPUNGE, COPY and UID COPY
(into another folder and the same one), UID MOVE, FETCH BODY[] and NOOP, and every reply
is compared with a simple in-memory model of the folder: STORE replies show the flags the model has, APPENDUID and COPYUID name the right
messages, EXPUNGE/EXISTS keep each session's numbering right, NOOP shows each session
the model's folder, and the stored folders equal the model at the end.
MODEL_SEEDS (comma-separated), MODEL_OPS and MODEL_SECONDS choose the runs; the defaults
are what make check runs. Each run prints its seed and how many ops it ran: the op
sequence of a seed is always the same, so a failure replays exactly."""
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import imapc  # noqa: E402
from imapc import Session, View, fetches, uid_code  # noqa: E402
from lib import Env, check, done, free_port, make_msg  # noqa: E402

SEEDS = [int(x) for x in os.environ.get("MODEL_SEEDS", "1,2,3").split(",")]
OPS = int(os.environ.get("MODEL_OPS", "800"))
# a run stops early after its share of MODEL_SECONDS once MIN_OPS are done (busy machines)
SECONDS = float(os.environ.get("MODEL_SECONDS", "24"))
MIN_OPS = 200
SYSTEM = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"]
KEYWORDS = ["$k%d" % i for i in range(6)]


class Model:
    def __init__(self):
        self.box = {"INBOX": {}, "Other": {}}   # folder -> {uid: [flags, subject]}


def stored(port, user, folder):
    return {uid: [set(fl), subj] for uid, (fl, subj) in imapc.stored(port, folder, user).items()}


def one_run(seed, port, env, user):
    rnd = random.Random(seed)
    print("# model seed %d, up to %d ops" % (seed, OPS), flush=True)
    model = Model()
    for i in range(6):
        env.deliver(user, make_msg(i, "s%d-d%d" % (seed, i)))
    setup = Session(port, user)
    setup.ok("CREATE Other")
    setup.close()
    model.box["INBOX"] = stored(port, user, "INBOX")
    views = []
    for k in range(2):
        c = Session(port, user)
        views.append(View(c, c.ok("SELECT INBOX")[0]))
    inbox = model.box["INBOX"]
    gone = []           # expunged UIDs, still named now and then
    errors = []
    appended = 0

    def bad(what, detail):
        errors.append("seed %d op %d: %s: %r" % (seed, n, what, detail))

    def pick_flags():
        return rnd.sample(SYSTEM + KEYWORDS, rnd.randint(1, 3))

    def apply_store(uid, mode, fl):
        f = inbox[uid][0]
        if mode == "+":
            f |= set(fl)
        elif mode == "-":
            f -= set(fl)
        else:
            f.clear()
            f |= set(fl)

    def store_reply(v, u, uid, seq, silent):
        got = [x for x in fetches(u) if x[2] is not None and
               (x[1] == uid if seq is None else x[0] == seq)]
        if uid not in inbox:
            if got and seq is None:
                bad("STORE of an expunged UID answered", u)
            return
        if silent:
            return
        if not got or got[-1][2] - {"\\Recent"} != inbox[uid][0]:
            bad("STORE reply differs from the model %s" % sorted(inbox[uid][0]), u)

    deadline = time.time() + SECONDS / len(SEEDS)
    ran = 0
    for n in range(OPS):
        if n >= MIN_OPS and time.time() > deadline:
            print("# seed %d: stopped after %d ops (time share used)" % (seed, n), flush=True)
            break
        ran = n + 1
        v = views[rnd.randrange(2)]
        op = rnd.choices(["store", "store_seq", "append", "expunge", "uid_expunge", "copy",
                          "copy_seq", "move", "fetch", "noop"],
                         [30, 15, 12, 3, 3, 5, 3, 2, 8, 10])[0]
        live = sorted(inbox)
        if op in ("store", "store_seq"):
            mode = rnd.choice(["+", "-", ""])
            fl = pick_flags()
            silent = rnd.random() < 0.2
            item = "%sFLAGS%s (%s)" % (mode, ".SILENT" if silent else "", " ".join(fl))
            if op == "store":
                uid = rnd.choice(gone) if gone and rnd.random() < 0.1 else \
                    (rnd.choice(live) if live else None)
                if uid is None:
                    continue
                u, t = v.run("UID STORE %d %s" % (uid, item))
                seq = None
            else:
                known = [(i + 1, x) for i, x in enumerate(v.uids) if x is not None]
                if not known:
                    continue
                seq, uid = rnd.choice(known)
                u, t = v.run("STORE %d %s" % (seq, item))
            if uid in inbox:
                apply_store(uid, mode, fl)
            store_reply(v, u, uid, seq, silent)
        elif op == "append":
            appended += 1
            subj = "s%d-a%d" % (seed, appended)
            fl = [x for x in pick_flags() if rnd.random() < 0.5]
            u, t = v.run("APPEND INBOX (%s)" % " ".join(fl), make_msg(1000 + appended, subj))
            code = uid_code(t)
            if code is None or code[3][0] in inbox:
                bad("APPENDUID", t)
                continue
            inbox[code[3][0]] = [set(fl), subj]
        elif op in ("expunge", "uid_expunge"):
            if rnd.random() < 0.7 and live:
                # most of the time something is \Deleted first, by either session
                uid = rnd.choice(live)
                views[rnd.randrange(2)].run("UID STORE %d +FLAGS.SILENT (\\Deleted)" % uid)
                inbox[uid][0].add("\\Deleted")
            if op == "expunge":
                targets = set(inbox)
                u, t = v.run("EXPUNGE")
            else:
                targets = set(rnd.sample(live, min(len(live), 3)))
                u, t = v.run("UID EXPUNGE %s" % ",".join(map(str, sorted(targets))) if targets
                             else "UID EXPUNGE 1:*")
                targets = targets or set(inbox)
            for uid in sorted(targets):
                if uid in inbox and "\\Deleted" in inbox[uid][0]:
                    del inbox[uid]
                    gone.append(uid)
        elif op in ("copy", "copy_seq", "move"):
            dest = "INBOX" if op != "move" and rnd.random() < 0.2 else "Other"
            if op == "copy_seq":
                # by sequence number: a message expunged elsewhere and not yet told is skipped
                known = [(i + 1, x) for i, x in enumerate(v.uids) if x is not None]
                if not known:
                    continue
                picked = sorted(rnd.sample(known, min(len(known), rnd.randint(1, 3))))
                srcs = [uid for seq, uid in picked]
                u, t = v.run("COPY %s %s" % (",".join(str(seq) for seq, uid in picked), dest))
            else:
                if not live:
                    continue
                srcs = sorted(set(rnd.sample(live, min(len(live), rnd.randint(1, 3)))))
                if gone and rnd.random() < 0.3:
                    srcs = sorted(set(srcs + [rnd.choice(gone)]))
                verb = "UID MOVE" if op == "move" else "UID COPY"
                u, t = v.run("%s %s %s" % (verb, ",".join(map(str, srcs)), dest))
            code = uid_code(t) or uid_code(b"\n".join(u))
            pairs = list(zip(code[2], code[3])) if code else []
            want = [s for s in srcs if s in inbox]
            if [s for s, d in pairs] != want:
                bad("%s COPYUID names %r, the model %r" % (op, pairs, want), (u, t))
                continue
            for s, d in pairs:
                model.box[dest][d] = [set(inbox[s][0]), inbox[s][1]]
            if op == "move":
                for s in want:
                    del inbox[s]
                    gone.append(s)
        elif op == "fetch":
            if not live:
                continue
            uid = rnd.choice(live)
            u, t = v.run("UID FETCH %d (BODY[TEXT] FLAGS)" % uid)
            inbox[uid][0].add("\\Seen")
            got = [x for x in fetches(u) if x[1] == uid and x[2] is not None]
            if not got or got[-1][2] - {"\\Recent"} != inbox[uid][0]:
                bad("FETCH BODY[] flags differ from the model %s" % sorted(inbox[uid][0]), u)
        else:
            u, t = v.run("NOOP")
            u, t = v.c.ok("FETCH 1:* (UID FLAGS)")
            seen = {uid: fl - {"\\Recent"} for seq, uid, fl in fetches(u)}
            if v.uids != sorted(inbox) or seen != {k: x[0] for k, x in inbox.items()}:
                bad("NOOP: the session's view differs from the model",
                    (v.uids, sorted(inbox), seen))
        if errors:
            break
    for v in views:
        v.run("NOOP")
        u, t = v.c.ok("FETCH 1:* (UID FLAGS)")
        seen = {uid: fl - {"\\Recent"} for seq, uid, fl in fetches(u)}
        if v.uids != sorted(inbox) or seen != {k: x[0] for k, x in inbox.items()}:
            bad("at the end a session's view differs from the model", (v.uids, seen))
        v.c.close()
    for folder in ("INBOX", "Other"):
        got = stored(port, user, folder)
        if got != model.box[folder]:
            bad("stored %s differs from the model" % folder, (got, model.box[folder]))
    check("seed %d: %d ops, every reply and both views as the model (%d messages, %d in Other)"
          % (seed, ran, len(inbox), len(model.box["Other"])), not errors, errors[:3])


env = Env()
PORT = free_port()
env.serve("listen=127.0.0.1:%d imap" % PORT)
try:
    t0 = time.time()
    for seed in SEEDS:
        user = "model%d" % seed
        env.add_user(user, "secret")
        one_run(seed, PORT, env, user)
    print("# measure model check: %d seeds in %.1f s" % (len(SEEDS), time.time() - t0))
finally:
    env.close()
done()
