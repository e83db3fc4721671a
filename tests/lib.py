"""Shared helpers for Python end-to-end tests (tests/e2e/*.py).

Env(): a private temp dir with config, mail root and passwd file; add_user, deliver,
serve() on a free loopback port; ok/fail/check print the lines tests/run.sh counts.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

MAILNOOK = os.environ["MAILNOOK"]
# Sessions started on pipes need a launcher to name the client, as tcpsvd does; without
# one the client is unknown and counts as remote. Tests launch from loopback.
os.environ.setdefault("TCPREMOTEIP", "127.0.0.1")
PASSED = 0
FAILED = 0


def ok(what):
    global PASSED
    PASSED += 1
    print("ok - " + what, flush=True)


def fail(what):
    global FAILED
    FAILED += 1
    print("FAIL - " + what, flush=True)


def check(what, cond, detail=""):
    if cond:
        ok(what)
    else:
        fail(what + (": " + str(detail) if detail else ""))
    return cond


def done():
    sys.exit(1 if FAILED else 0)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def emulated():
    """Suffix for "# measure" lines: under an emulator (tests/cross/check.sh) the memory and
    time of the process are the emulator's, not mailnook's."""
    e = os.environ.get("MAILNOOK_EMULATOR")
    return " (under %s: the emulator's, not mailnook's)" % e if e else ""


def wait_port(port, host="127.0.0.1", timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection((host, port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def make_msg(n, subject="test", body_lines=3, extra_headers=""):
    body = "".join("line %d of message %d\n" % (i, n) for i in range(body_lines))
    return ("From: sender%d@example.org\nTo: user@test.example\nSubject: %s\n"
            "Message-ID: <%d.%d@example.org>\nDate: Sat, 28 Nov 2026 10:00:00 +0000\n%s\n%s"
            % (n, subject, n, os.getpid(), extra_headers, body)).encode()


class Env:
    def __init__(self, extra_conf=""):
        self.dir = tempfile.mkdtemp(prefix="mailnook-test.")
        os.chmod(self.dir, 0o755)
        self.mail = os.path.join(self.dir, "mail")
        self.run = os.path.join(self.dir, "run")
        os.makedirs(self.mail)
        os.makedirs(self.run)
        self.run_user = "nobody" if os.getuid() == 0 else os.environ.get("USER") or \
            subprocess.check_output(["id", "-un"]).decode().strip()
        if os.getuid() == 0:
            for d in (self.mail, self.run):
                shutil.chown(d, "nobody")
        self.conf = os.path.join(self.dir, "mailnook.conf")
        with open(self.conf, "w") as f:
            f.write("mail_root %s\npasswd_file %s/passwd\nruntime_dir %s\nuser %s\n"
                    "log stderr\nhostname test.example\n%s"
                    % (self.mail, self.dir, self.run, self.run_user, extra_conf))
        self.procs = []

    def cmd(self, *args):
        return [MAILNOOK, "-c", self.conf] + list(args)

    def add_user(self, name, password):
        subprocess.run(self.cmd("passwd", name), input=(password + "\n").encode(),
                       check=True, stdout=subprocess.DEVNULL)

    def deliver(self, user, msg, sender=None):
        args = ["deliver"] + (["-f", sender] if sender else []) + [user]
        return subprocess.run(self.cmd(*args), input=msg, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE).returncode

    def inbox(self, user):
        return os.path.join(self.mail, user, "INBOX")

    def serve(self, *overrides, port=None):
        """Start serve -f with a POP3 listener on a free port; returns the port."""
        port = port or free_port()
        args = []
        for o in ("listen=127.0.0.1:%d pop3" % port,) + overrides:
            args += ["-o", o]
        log = open(os.path.join(self.dir, "serve.log"), "ab")
        p = subprocess.Popen([MAILNOOK, "-c", self.conf] + args + ["serve", "-f"],
                             stdout=log, stderr=log)
        self.procs.append(p)
        # Every listener: the first one accepting does not mean the later ones are bound.
        ports = [port] + [int(o.split()[0].rsplit(":", 1)[1]) for o in overrides
                          if o.startswith("listen=127.0.0.1:")]
        if not all(wait_port(q) for q in ports):
            raise RuntimeError("serve did not start: " + self.log())
        return port

    def wait_idle(self, timeout=5.0):
        """Wait until the last serve started has had no session child for 0.3 s
        (Linux /proc): connections already made, like serve()'s probe, have ended."""
        pid = self.procs[-1].pid
        end = time.time() + timeout
        idle_since = None
        while time.time() < end:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                busy = bool(f.read().split())
            now = time.time()
            idle_since = None if busy else (idle_since or now)
            if idle_since is not None and now - idle_since >= 0.3:
                return True
            time.sleep(0.05)
        return False

    def log(self):
        try:
            with open(os.path.join(self.dir, "serve.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(3)
            except subprocess.TimeoutExpired:
                p.kill()
        if not os.environ.get("KEEP_T"):
            shutil.rmtree(self.dir, ignore_errors=True)
