"""mailnook passwd: from a terminal (asked twice, echo off) and from stdin; the file keeps
other users' lines and options; bad input is refused with the file untouched."""
import os
import pty
import select
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done  # noqa: E402


def on_tty(env, user, answers):
    """Run passwd on a pseudo-terminal, typing answers at each prompt; (rc, screen text)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execv(env.cmd()[0], env.cmd("passwd", user))
        finally:
            os._exit(127)
    screen = b""
    sent = 0
    end = time.time() + 10
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                data = os.read(fd, 1024)
            except OSError:
                break
            if not data:
                break
            screen += data
            # One answer per prompt seen, never ahead of it (the prompt flushes input).
            while sent < min(screen.count(b"password: "), len(answers)):
                os.write(fd, (answers[sent] + "\n").encode())
                sent += 1
    while True:
        done_pid, status = os.waitpid(pid, os.WNOHANG)
        if done_pid == pid:
            break
        if time.time() > end:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return -9, screen.decode(errors="replace") + " [killed: no answer]"
        time.sleep(0.05)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), screen.decode(errors="replace")


def login_ok(env, user, password):
    r = subprocess.run(env.cmd("pop3"), input=("USER %s\r\nPASS %s\r\nQUIT\r\n" % (user, password)).encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30)
    return r.stdout.decode(errors="replace").split("\r\n")[2].startswith("+OK")


env = Env()
try:
    passwd = os.path.join(env.dir, "passwd")
    with open(passwd, "w") as f:
        f.write("# household\nbob:$6$x$y:quota=1G\n")
    rc, screen = on_tty(env, "carol", ["tty secret", "tty secret"])
    check("tty: asked twice, password set", rc == 0 and screen.count("password:") == 2, screen)
    check("tty: the password is not echoed", "tty secret" not in screen, screen)
    check("tty: new password works", login_ok(env, "carol", "tty secret"))
    rc, screen = on_tty(env, "carol", ["one", "two"])
    check("tty: different answers refused", rc != 0 and "differ" in screen, screen)
    check("tty: old password kept after a refusal", login_ok(env, "carol", "tty secret"))

    r = subprocess.run(env.cmd("passwd", "bob"), input=b"piped pw\n", stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    check("stdin: password set", r.returncode == 0 and login_ok(env, "bob", "piped pw"))
    with open(passwd) as f:
        text = f.read()
    check("comment, order and options kept",
          text.startswith("# household\nbob:$6$") and ":quota=1G\ncarol:$6$" in text, text)
    st = os.stat(passwd)
    check("file mode 0640", stat.S_IMODE(st.st_mode) == 0o640, oct(st.st_mode))
    if os.getuid() == 0:
        check("group of the run user (nogroup for nobody)", st.st_gid == 65534, st.st_gid)
    for args, data, what in ((["passwd", "bob"], b"\n", "empty password"),
                             (["passwd", "bob"], b"x" * 300 + b"\n", "over-long password"),
                             (["passwd", "../bob"], b"pw\n", "bad user name"),
                             (["passwd"], b"pw\n", "missing user")):
        r = subprocess.run(env.cmd(*args), input=data, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        check("%s refused (exit %d)" % (what, r.returncode), r.returncode != 0 and r.stderr)
    with open(passwd) as f:
        check("file untouched by refusals", f.read() == text)
    check("no temporary files left", sorted(os.listdir(env.dir)).count("passwd") == 1 and
          not [n for n in os.listdir(env.dir) if n.startswith("passwd.")], os.listdir(env.dir))
finally:
    env.close()
done()
