"""RENAME of a folder subtree killed with SIGKILL at every durable step
(MAILNOOK_CRASH_STEP=N on the imap verb): the next login finishes the rename, so the
whole subtree is under the new name with its UIDVALIDITY, UIDs, flags, keywords and
subscriptions, and nothing is left under the old name."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, make_msg  # noqa: E402

env = Env()
env.add_user("r", "secret")
HOME = os.path.join(env.mail, "r")
PRISTINE = os.path.join(env.dir, "pristine")
TREE = ("Proj", "Proj/A", "Proj/A/B")


def session(*cmds, crash=None):
    """One imap-verb session as r; (exit status, replies)."""
    e = dict(os.environ)
    if crash is not None:
        e["MAILNOOK_CRASH_STEP"] = str(crash)
    text = "a LOGIN r secret\r\n" + "".join("%s\r\n" % c for c in cmds) + "z LOGOUT\r\n"
    r = subprocess.run(env.cmd("-o", "plaintext_auth=anywhere", "imap"), input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=e)
    return r.returncode, r.stdout.decode(errors="replace").replace("\r", "")


def literal(n, name):
    m = make_msg(n, name, 1).replace(b"\n", b"\r\n").decode()
    return 'x APPEND "%s" {%d+}\r\n%s' % (name, len(m), m)


def state(prefix):
    """{folder: (status line, flags)} of the tree under prefix, plus LIST and LSUB."""
    cmds = []
    for i, f in enumerate(TREE):
        cmds += ['s%d STATUS "%s%s" (MESSAGES UIDVALIDITY UIDNEXT)' % (i, prefix, f),
                 'e%d EXAMINE "%s%s"' % (i, prefix, f), "f%d UID FETCH 1:* (FLAGS)" % i]
    cmds += ['l LIST "" *', 'm LSUB "" *']
    rc, out = session(*cmds)
    st = re.findall(r"^\* STATUS \S+ (\(.*\))$", out, re.M)
    fl = re.findall(r"^\* \d+ FETCH (.*)$", out, re.M)
    names = set(re.findall(r'^\* LIST \([^)]*\) "/" (.*)$', out, re.M))
    subs = set(re.findall(r'^\* LSUB \([^)]*\) "/" (.*)$', out, re.M))
    return st, [f.replace("\\Recent", "").replace(" )", ")") for f in fl], names, subs


try:
    session()  # first login: special-use folders
    cmds = ["b CREATE Proj/A/B", "c CREATE Proj", "d CREATE Proj/A", "e SUBSCRIBE Proj/A",
            "f SUBSCRIBE Proj/A/B"]
    cmds += [literal(i, f) for i, f in enumerate(TREE + ("Proj/A",))]
    cmds += ["g SELECT Proj/A", "h STORE 2 +FLAGS (\\Flagged $Todo)", "i CLOSE"]
    rc, out = session(*cmds)
    check("tree made", rc == 0 and out.count("APPENDUID") == 4, out)
    before = state("")
    check("tree listed before", {"Proj", "Proj/A", "Proj/A/B"} <= before[2], before)
    shutil.copytree(HOME, PRISTINE, symlinks=True)
    crashes = 0
    for step in range(1, 40):
        shutil.rmtree(HOME)
        shutil.copytree(PRISTINE, HOME, symlinks=True)
        if os.getuid() == 0:
            subprocess.run(["chown", "-R", env.run_user, HOME], check=True)
        rc, out = session("r RENAME Proj Done/Proj", crash=step)
        finished = "r OK RENAME" in out
        if not finished:
            check("step %d: killed, not answered" % step, rc == -9, (rc, out))
            crashes += 1
        st, fl, names, subs = state("Done/")
        check("step %d: UIDVALIDITY, UIDNEXT and counts kept" % step, st == before[0],
              (st, before[0]))
        check("step %d: flags and keywords kept" % step, fl == before[1], (fl, before[1]))
        check("step %d: the subtree is under the new name only" % step,
              {"Done/Proj", "Done/Proj/A", "Done/Proj/A/B"} <= names and
              not any(n.startswith("Proj") for n in names), names)
        check("step %d: subscriptions renamed" % step,
              {"Done/Proj/A", "Done/Proj/A/B"} <= subs and
              not any(n.startswith("Proj") for n in subs), subs)
        check("step %d: journal gone" % step,
              not os.path.exists(os.path.join(HOME, ".mailnook", "rename")))
        if finished:
            break
    check("RENAME has durable steps to crash at (%d)" % crashes, crashes >= 5)
    # killed before anything moved, and the new name made meanwhile (by a session that
    # was already logged in): the next login drops the journal and overwrites nothing
    shutil.rmtree(HOME)
    shutil.copytree(PRISTINE, HOME, symlinks=True)
    os.makedirs(os.path.join(HOME, "Done.sbd"))
    if os.getuid() == 0:
        subprocess.run(["chown", "-R", env.run_user, HOME], check=True)
    rc, out = session("r RENAME Proj Done/Proj", crash=1)
    check("killed after the journal", rc == -9, (rc, out))
    mbox = os.path.join(HOME, "Done.sbd", "Proj")
    with open(mbox, "wb") as f:
        for i in range(3):
            f.write(b"From x@example.org Sat Nov 28 10:00:00 2026\nSubject: other %d\n\n"
                    b"other\n\n" % i)
    if os.getuid() == 0:
        subprocess.run(["chown", "-R", env.run_user, HOME], check=True)
    st, fl, names, subs = state("")
    check("the old tree is whole under its name", st == before[0] and fl == before[1],
          (st, before[0]))
    check("the new name keeps its own three messages", "Done/Proj" in names and
          "(MESSAGES 3)" in session('s STATUS Done/Proj (MESSAGES)')[1], names)
    check("journal dropped", not os.path.exists(os.path.join(HOME, ".mailnook", "rename")))
finally:
    env.close()
done()
