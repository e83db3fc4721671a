"""Several IMAP sessions on one folder with deliver running alongside: 2 and 5 sessions
see each other's flag changes and expunges and the new mail (IDLE included) at the right
moments and agree on the folder at the end; then a 20,000-message folder: SELECT and
FETCH times and the session's memory, printed as "# measure" lines."""
import imaplib
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, emulated, free_port, make_msg  # noqa: E402

env = Env()
env.add_user("alice", "secret")
env.add_user("big", "pw")
for i in range(10):
    env.deliver("alice", make_msg(i, "start %d" % i))
PORT = free_port()
env.serve("listen=127.0.0.1:%d imap" % PORT)


def login(user="alice", pw="secret"):
    c = imaplib.IMAP4("127.0.0.1", PORT)
    c.login(user, pw)
    return c


def uids_flags(c):
    c.untagged_responses.pop("FETCH", None)
    typ, data = c.fetch("1:*", "(UID FLAGS)")
    out = {}
    for d in data:
        m = re.search(rb"UID (\d+) FLAGS \(([^)]*)\)", d or b"")
        if m:
            out[int(m.group(1))] = set(m.group(2).split()) - {b"\\Recent"}
    return out


try:
    # --- two sessions ---
    a, b = login(), login()
    a.select("INBOX")
    b.select("INBOX")
    b.store("2", "+FLAGS", "(\\Flagged)")
    typ, data = a.noop()
    fl = a.untagged_responses.pop("FETCH", [])
    check("2 sessions: flag change announced", any(x.startswith(b"2 ") and b"\\Flagged" in x for x in fl), fl)
    b.store("1:2", "+FLAGS", "(\\Deleted)")
    b.expunge()
    a.untagged_responses.clear()
    typ, data = a.search(None, "ALL")
    check("2 sessions: no EXPUNGE during SEARCH", "EXPUNGE" not in a.untagged_responses, a.untagged_responses)
    check("2 sessions: SEARCH still counts the unannounced", data[0].split()[-1] == b"10", data)
    a.noop()
    check("2 sessions: EXPUNGE at NOOP, highest first",
          a.untagged_responses.pop("EXPUNGE", None) == [b"2", b"1"], a.untagged_responses)
    check("2 sessions agree after", uids_flags(a) == uids_flags(b))
    b.create("Gone")
    b.select("Gone")
    a.delete("Gone")
    try:
        b.noop()
        check("a folder deleted under a session ends it with BYE", False)
    except imaplib.IMAP4.abort as e:
        check("a folder deleted under a session ends it with BYE", "deleted" in str(e), e)
    a.logout()

    # --- five sessions, deliver alongside, one IDLE ---
    sessions = [login() for _ in range(5)]
    for c in sessions:
        c.select("INBOX")
    idle = socket.create_connection(("127.0.0.1", PORT))
    f = idle.makefile("rb")
    f.readline()
    idle.sendall(b"a LOGIN alice secret\r\nb SELECT INBOX\r\nc IDLE\r\n")
    while not f.readline().startswith(b"+"):
        pass
    stop = threading.Event()

    def deliverer():
        n = 100
        while not stop.is_set() and n < 120:
            env.deliver("alice", make_msg(n, "during %d" % n))
            n += 1

    t = threading.Thread(target=deliverer)
    t.start()
    for k, c in enumerate(sessions):
        c.store("%d" % (k + 1), "+FLAGS", "($Mark%d)" % k)
        c.noop()
    t.join()
    idle.settimeout(10)
    seen = b""
    while b"28 EXISTS" not in seen:
        chunk = idle.recv(4096)
        if not chunk:
            break
        seen += chunk
    check("5 sessions: IDLE saw all 20 new messages", b"* 28 EXISTS" in seen, seen[-200:])
    idle.sendall(b"DONE\r\nd LOGOUT\r\n")
    idle.close()
    for c in sessions:
        c.noop()
    views = [uids_flags(c) for c in sessions]
    check("5 sessions: 28 messages in every view", all(len(v) == 28 for v in views), [len(v) for v in views])
    check("5 sessions agree on every flag", all(v == views[0] for v in views))
    marks = sum(1 for fl in views[0].values() for x in fl if x.startswith(b"$Mark"))
    check("5 sessions: each keyword kept", marks == 5, views[0])
    for c in sessions:
        c.logout()

    # --- a 20,000-message folder ---
    N = 20000
    inbox = os.path.join(env.mail, "big", "INBOX")
    os.makedirs(os.path.dirname(inbox), exist_ok=True)
    with open(inbox, "wb") as fh:
        for i in range(N):
            fh.write(b"From sender@example.org Sat Nov 28 10:00:00 2026\n" + make_msg(i, "bulk %d" % i, 2)
                     + b"\n")
    if os.getuid() == 0:
        subprocess.run(["chown", "-R", "nobody", os.path.dirname(inbox)], check=True)
    c = login("big", "pw")
    t0 = time.time()
    typ, data = c.select("INBOX")
    t_open = time.time() - t0
    check("20,000 messages: SELECT", data == [b"%d" % N], data)
    t0 = time.time()
    typ, data = c.fetch("1:*", "(UID FLAGS RFC822.SIZE INTERNALDATE)")
    t_flags = time.time() - t0
    check("20,000 messages: FETCH flags of all", len(data) == N)
    t0 = time.time()
    typ, data = c.fetch("1:*", "(ENVELOPE BODYSTRUCTURE)")
    t_env1 = time.time() - t0
    t0 = time.time()
    typ, data = c.fetch("1:*", "(ENVELOPE BODYSTRUCTURE)")
    t_env2 = time.time() - t0
    check("20,000 messages: ENVELOPE BODYSTRUCTURE of all", len(data) == N and b"bulk 19999" in data[-1])
    c.select("INBOX")
    t0 = time.time()
    typ, data = c.fetch("1:*", "(ENVELOPE BODYSTRUCTURE)")
    t_env3 = time.time() - t0
    t0 = time.time()
    typ, data = c.store("1:*", "+FLAGS.SILENT", "(\\Seen)")
    t_store = time.time() - t0
    typ, data = c.search(None, "UNSEEN")
    check("20,000 messages: STORE 1:* +FLAGS \\Seen", typ == "OK" and data == [b""], data)
    t0 = time.time()
    typ, data = c.search(None, "BODY", '"line 1 of message 19999"')
    t_search = time.time() - t0
    check("20,000 messages: SEARCH BODY reads them all and finds one", data == [b"20000"], data)
    t0 = time.time()
    typ, data = c.copy("1:2000", "Trash")
    t_copy = time.time() - t0
    check("20,000 messages: COPY 1:2000 with COPYUID 1:2000",
          typ == "OK" and data[0].split()[2:4] == [b"1:2000", b"1:2000]"], data)
    typ, data = c.status("Trash", "(MESSAGES UNSEEN)")
    check("copies keep \\Seen", b"MESSAGES 2000 UNSEEN 0" in data[0], data)
    typ, data = c.copy("1:3", "INBOX")
    check("COPY into the selected folder itself", typ == "OK" and b"%d:%d" % (N + 1, N + 3) in data[0], data)
    typ, data = c.fetch("%d" % (N + 3), "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    check("the self-copy is message 3's bytes", data[0][1].startswith(b"Subject: bulk 2\r\n"), data)
    check("cached structure is faster than the first parse", t_env3 < t_env1, (t_env1, t_env3))
    pids = subprocess.run(["pgrep", "-P", str(env.procs[-1].pid)], stdout=subprocess.PIPE).stdout.split()
    rss = 0
    for p in pids:
        with open("/proc/%s/status" % p.decode()) as st:
            for line in st:
                if line.startswith("VmRSS:"):
                    rss = max(rss, int(line.split()[1]))
    if os.environ.get("MAILNOOK_EMULATOR"):  # the RSS is the emulator's
        check("20,000 messages: session process found (%d KB)" % rss, rss > 0)
        print("# not measured: session RSS under 16 MB (%s holds the session)"
              % os.environ["MAILNOOK_EMULATOR"])
    elif "asan" not in os.environ.get("MAILNOOK_VARIANT", ""):  # ASan shadow memory is not ours
        check("20,000 messages: session RSS under 16 MB (%d KB)" % rss, 0 < rss < 16384)
    print("# measure imap 20000 msgs: select %.2fs, fetch flags %.2fs, envelope+bodystructure "
          "first %.2fs, again %.2fs, after reselect %.2fs, store all %.2fs, search body %.2fs, "
          "copy 2000 %.2fs, session rss %d KB%s"
          % (t_open, t_flags, t_env1, t_env2, t_env3, t_store, t_search, t_copy, rss, emulated()))
    c.logout()
finally:
    env.close()
done()
