"""Shared helpers for the CPython interop tests: locating the MicroPython
binaries, starting/stopping processes by PID, free ports, running libcoap's
command-line tools, and parsing their `-v 8` PDU dumps."""

import os
import queue
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("MPCOAP_ROOT") or os.path.dirname(os.path.dirname(HERE))
TESTS = os.path.join(ROOT, "tests")
LIB = os.path.join(ROOT, "build", "lib")


def micropython(gil=False):
    if gil:
        return os.environ.get("MICROPYTHON_GIL") or os.path.join(ROOT, "build", "unix-gil", "micropython")
    return os.environ.get("MICROPYTHON") or os.path.join(ROOT, "build", "unix", "micropython")


def binaries():
    """(label, path) of every MicroPython build present."""
    out = []
    for label, gil in (("nogil", False), ("gil", True)):
        p = micropython(gil)
        if os.path.exists(p):
            out.append((label, p))
    return out


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def have(tool):
    from shutil import which
    return which(tool) is not None


class Proc:
    """A child process whose output lines are collected by a thread."""

    def __init__(self, argv, env=None, cwd=None):
        e = dict(os.environ)
        if env:
            e.update(env)
        self.argv = argv
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=e, cwd=cwd, start_new_session=True)
        self.lines = []
        self.q = queue.Queue()
        self.t = threading.Thread(target=self._pump, daemon=True)
        self.t.start()

    def _pump(self):
        for raw in self.p.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            self.q.put(line)
        self.q.put(None)

    def wait_line(self, pred, timeout=10.0):
        """First new line for which pred(line) is true; None on timeout/exit."""
        if isinstance(pred, str):
            prefix = pred
            pred = lambda l: l.startswith(prefix)  # noqa: E731
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                return None
            if line is None:
                self.q.put(None)
                return None
            if pred(line):
                return line

    def wait_exit(self, timeout=30.0):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def output(self):
        self.t.join(timeout=2)
        return "\n".join(self.lines)

    def stop(self):
        # by PID (its own session/process group, so helpers it forks die too)
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait(timeout=3)
        if self.p.stdout:
            self.p.stdout.close()


def mp_env():
    return {"MICROPYPATH": LIB + ":" + TESTS + ":" + HERE}


def start_mp(tc, script, args=(), gil=False, netns=None):
    """Start a MicroPython script (path) and register its stop as cleanup."""
    mp = micropython(gil)
    if not os.path.exists(mp):
        tc.skipTest("MicroPython binary %s not built" % mp)
    argv = [mp, script] + [str(a) for a in args]
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    p = Proc(argv, env=mp_env())
    tc.addCleanup(p.stop)
    return p


def write_script(tc, text):
    fd, path = tempfile.mkstemp(suffix=".py", prefix="mpcoap_")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    tc.addCleanup(os.unlink, path)
    return path


def start_mp_server(tc, port, gil=False, extra=(), netns=None):
    p = start_mp(tc, os.path.join(HERE, "mp_server.py"), [port] + list(extra), gil=gil, netns=netns)
    line = p.wait_line("READY", 15)
    if line is None:
        p.stop()
        tc.fail("MicroPython server did not start:\n" + p.output())
    return p


def run(argv, timeout=20, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, timeout=timeout, **kw)


# ---------------------------------------------------------------- libcoap

PDU_RE = re.compile(r"^v:(\d) t:(\w+) c:(\S+) i:([0-9a-f]{4}) \{([0-9a-f]*)\} \[ ?(.*?) ?\](?: :: (.*))?$")


class Pdu:
    def __init__(self, m, direction):
        self.direction = direction
        self.type = m.group(2)
        self.code = m.group(3)
        self.mid = int(m.group(4), 16)
        self.token = bytes.fromhex(m.group(5))
        self.options = m.group(6)
        p = m.group(7)
        if p is None:
            self.payload = b""
        elif p.startswith("'") and p.endswith("'"):
            self.payload = p[1:-1].encode()
        else:
            self.payload = p.encode()

    def __repr__(self):
        return "Pdu(%s %s %s i:%04x {%s} [%s] %r)" % (self.direction, self.type, self.code, self.mid,
                                                       self.token.hex(), self.options, self.payload)


def parse_pdus(text):
    """PDUs printed by a libcoap tool at -v 8, each marked 'sent'/'received'."""
    out = []
    direction = None
    for line in text.splitlines():
        if " sent " in line and "bytes" in line:
            direction = "sent"
            continue
        if " received " in line and "bytes" in line:
            direction = "received"
            continue
        m = PDU_RE.match(line.strip())
        if m:
            out.append(Pdu(m, direction))
    return out


def coap_client(port, path, method="get", extra=(), host="127.0.0.1", timeout=20):
    """Run coap-client-notls -v 8; return (returncode, text, sent PDUs, received PDUs)."""
    argv = ["coap-client-notls", "-v", "8", "-B", "5", "-m", method] + list(extra)
    argv.append("coap://%s:%d/%s" % (host, port, path))
    r = run(argv, timeout=timeout)
    text = r.stdout.decode("utf-8", "replace")
    pdus = parse_pdus(text)
    return (r.returncode, text, [p for p in pdus if p.direction == "sent"],
            [p for p in pdus if p.direction == "received"])


def need_tool(tc, tool):
    if not have(tool):
        tc.skipTest("%s not installed" % tool)


class MPTestCase(unittest.TestCase):
    def fail_with(self, msg, proc=None):
        if proc is not None:
            msg += "\n--- process output ---\n" + proc.output()
        self.fail(msg)
