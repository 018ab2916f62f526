"""What the CPython-driven suites share: tests/interop, tests/stress and
tests/bench (and the scripts they start) import this one module.

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cpython"))
    import support as s  # noqa: E402

It holds: the MicroPython binaries; child processes, stopped by PID; free
loopback ports; running libcoap's command-line tools and parsing their `-v 8`
PDU dumps; a small RFC 7252 encoder/decoder and a confirmable client.

Environment (tests/run.py and the Makefile set it): MICROPYTHON (unix build
with the module), MICROPYTHON_GIL (the GIL build), MPCOAP_ROOT (repository
root).
"""

import os
import queue
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("MPCOAP_ROOT") or os.path.dirname(os.path.dirname(HERE))
TESTS = os.path.join(ROOT, "tests")
LIB = os.path.join(ROOT, "build", "lib")
# The suites' folders, where the scripts they start live.
INTEROP = os.path.join(TESTS, "interop")
STRESS = os.path.join(TESTS, "stress")
BENCH = os.path.join(TESTS, "bench")
HOST = "127.0.0.1"


# ---- MicroPython binaries ----------------------------------------------------

def micropython(gil=False, required=False):
    """Path of the unix binary (MICROPYTHON or MICROPYTHON_GIL, else build/).
    required=True: an AssertionError (the test fails, not skips) when it is
    missing."""
    var = "MICROPYTHON_GIL" if gil else "MICROPYTHON"
    path = os.environ.get(var) or os.path.join(ROOT, "build", "unix-gil" if gil else "unix", "micropython")
    if required and not os.access(path, os.X_OK):
        raise AssertionError("%s: no MicroPython binary at %s (run make unix unix-gil)" % (var, path))
    return path


def binaries():
    """(label, path) of every MicroPython build present."""
    out = []
    for label, gil in (("nogil", False), ("gil", True)):
        p = micropython(gil)
        if os.path.exists(p):
            out.append((label, p))
    return out


def mp_env():
    """MICROPYPATH for the interop scripts: unittest, tests/ (helpers),
    tests/interop, and the frozen modules (asyncio, coap_asyncio)."""
    return {"MICROPYPATH": LIB + ":" + TESTS + ":" + INTEROP + ":.frozen"}


# ---- ports and tools -----------------------------------------------------------

def free_port():
    """A UDP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port



def have(tool):
    return shutil.which(tool) is not None


def need_tool(tc, tool):
    if not have(tool):
        tc.skipTest("%s not installed" % tool)


def run(argv, timeout=20, **kw):
    """subprocess.run with stdout and stderr together in .stdout (bytes)."""
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, timeout=timeout, **kw)


# ---- child processes -------------------------------------------------------------

class Proc:
    """A child process in a session of its own, its output lines (stdout and
    stderr) collected by a thread. stop() ends it by PID, with whatever it
    started (its process group). env is added to this process's environment."""

    def __init__(self, argv, env=None, cwd=None):
        e = dict(os.environ)
        if env:
            e.update(env)
        self.argv = argv
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=e, cwd=cwd, start_new_session=True)
        self.pid = self.p.pid
        self.lines = []  # every line so far
        self.q = queue.Queue()  # lines not yet looked at by wait_line/expect; None at the end
        self.t = threading.Thread(target=self._pump, daemon=True)
        self.t.start()

    def _pump(self):
        for raw in self.p.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            self.q.put(line)
        self.q.put(None)

    def _next(self, pred, timeout):
        """(first new line pred accepts, None), or (None, "timeout" or "exit")."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None, "timeout"
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                return None, "timeout"
            if line is None:
                self.q.put(None)
                return None, "exit"
            if pred(line):
                return line, None

    def wait_line(self, pred, timeout=10.0):
        """First new line for which pred(line) is true (a str: the line starts
        with it); None on timeout or exit."""
        if isinstance(pred, str):
            prefix = pred
            pred = lambda l: l.startswith(prefix)  # noqa: E731
        return self._next(pred, timeout)[0]

    def expect(self, prefix, timeout=10.0):
        """The next line starting with prefix (other lines are skipped); an
        AssertionError on timeout or exit."""
        line, why = self._next(lambda l: l.startswith(prefix), timeout)
        if why == "timeout":
            raise AssertionError("%s: no %r line within %.0f s; output:\n%s"
                                 % (self.argv[-1], prefix, timeout, self.output(last=60)))
        if why == "exit":
            raise AssertionError("%s exited (rc %s) before printing %r; output:\n%s"
                                 % (self.argv, self.p.wait(), prefix, self.output(last=60)))
        return line

    def alive(self):
        return self.p.poll() is None

    def wait(self, timeout):
        """Exit status; subprocess.TimeoutExpired if it runs on."""
        return self.p.wait(timeout)

    def wait_exit(self, timeout=30.0):
        """Exit status, or None if it still runs after timeout."""
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def output(self, last=None):
        """Its output so far (all of it once it has exited), or the last lines."""
        if self.p.poll() is not None:
            self.t.join(timeout=2)
        lines = self.lines if last is None else self.lines[-last:]
        return "\n".join(lines)

    def stop(self):
        """SIGTERM, then SIGKILL, to its process group."""
        if self.p.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.p.wait(timeout=3)
        self.t.join(3)
        if self.p.stdout:
            self.p.stdout.close()


def start_mp(tc, script, args=(), gil=False, netns=None):
    """Start a MicroPython script (path) with mp_env(); its stop is a cleanup
    of tc, which skips when the binary is missing."""
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
    """A temporary file holding text, removed as a cleanup of tc."""
    fd, path = tempfile.mkstemp(suffix=".py", prefix="mpcoap_")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    tc.addCleanup(os.unlink, path)
    return path


# ---- the suites' MicroPython servers -------------------------------------------

def start_mp_server(tc, port, gil=False, extra=(), netns=None):
    """tests/interop/mp_server.py (the interop resources) on port, once it
    prints READY; stopped as a cleanup of tc."""
    p = start_mp(tc, os.path.join(INTEROP, "mp_server.py"), [port] + list(extra), gil=gil, netns=netns)
    line = p.wait_line("READY", 15)
    if line is None:
        p.stop()
        tc.fail("MicroPython server did not start:\n" + p.output())
    return p


def mp_server(port, *extra, gil=False):
    """tests/stress/mp_server.py (/bench, /etag, /ctl) on port, once it
    prints ready; the caller stops it."""
    p = Proc([micropython(gil, required=True), os.path.join(STRESS, "mp_server.py"), str(port)]
             + [str(x) for x in extra])
    p.expect("ready", 15)
    return p


class MPTestCase(unittest.TestCase):
    def fail_with(self, msg, proc=None):
        if proc is not None:
            msg += "\n--- process output ---\n" + proc.output()
        self.fail(msg)


class RawClientCase(MPTestCase):
    """A raw client for tests that check the wire: open_raw() binds a UDP
    socket on HOST, send() and recv() build and parse with this module."""

    def open_raw(self, server, first_mid):
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.addCleanup(self.sock.close)
        self.mid = first_mid

    def send(self, mtype, mcode, path=None, token=b"", options=(), payload=b"", mid=None):
        if mid is None:
            self.mid += 1
            mid = self.mid
        opts = (path_options(path) if path else []) + list(options)
        self.sock.sendto(build(mtype, mcode, mid, token, opts, payload), self.server)
        return mid

    def recv(self, timeout=2.0):
        """The next datagram to the raw socket, parsed, or None."""
        self.sock.settimeout(timeout)
        try:
            return parse(self.sock.recv(4096))
        except socket.timeout:
            return None


# ---- libcoap's command-line tools ----------------------------------------------

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


def coap_client(port, path, method="get", extra=(), host=HOST, timeout=20):
    """Run coap-client-notls -v 8; return (returncode, text, sent PDUs, received PDUs)."""
    argv = ["coap-client-notls", "-v", "8", "-B", "5", "-m", method] + list(extra)
    argv.append("coap://%s:%d/%s" % (host, port, path))
    r = run(argv, timeout=timeout)
    text = r.stdout.decode("utf-8", "replace")
    pdus = parse_pdus(text)
    return (r.returncode, text, [p for p in pdus if p.direction == "sent"],
            [p for p in pdus if p.direction == "received"])


# ---- RFC 7252 wire format (just what the tests need) ------------------------

CON, NON, ACK, RST = 0, 1, 2, 3
GET, POST, PUT, DELETE = 1, 2, 3, 4  # CoAP method codes (not Pycom's REQUEST_* flags)
ETAG_OPT, URI_PATH, CONTENT_FORMAT, MAX_AGE, URI_QUERY = 4, 11, 12, 14, 15
BLOCK2, BLOCK1, SIZE2, SIZE1 = 23, 27, 28, 60  # RFC 7959


def code(c, d):
    return c << 5 | d


C204, C205 = code(2, 4), code(2, 5)
C231, C402, C408, C413 = code(2, 31), code(4, 2), code(4, 8), code(4, 13)


def block(num, more, szx):
    """A Block1/Block2 option value (RFC 7959 2.2), as an int for build()."""
    return num << 4 | (8 if more else 0) | szx


def block_of(msg, num):
    """(NUM, M, SZX) of option num in a parsed message, or None."""
    v = option(msg, num)
    if v is None:
        return None
    v = int.from_bytes(v, "big")
    return v >> 4, v >> 3 & 1, v & 7


# Bytes that show a shifted, repeated or missing block: within 64 KiB, the
# 16-byte block at offset 16k tells k (its even bytes k mod 256, its odd
# bytes also k >> 8), so no two aligned blocks are equal, and a different
# seed changes every byte. The same source runs in MicroPython scripts
# (exec'd there), so both sides agree.
PATTERN_SRC = """
def pattern(n, seed=0):
    return bytes((((i >> 4) * 7 + (i & 15) * 29 + (i & 1) * (i >> 12) * 53 + seed * 101) & 0xFF)
                 for i in range(n))
"""
exec(PATTERN_SRC)


def _ext(v):
    if v < 13:
        return v, b""
    if v < 269:
        return 13, bytes([v - 13])
    return 14, struct.pack(">H", v - 269)


def build(mtype, mcode, mid, token=b"", options=(), payload=b""):
    """One message. options: (number, value) in any order, value bytes, str
    (UTF-8) or int (shortest big-endian)."""
    out = bytearray([0x40 | mtype << 4 | len(token), mcode]) + struct.pack(">H", mid) + token
    last = 0
    for num, val in sorted(options, key=lambda o: o[0]):
        if isinstance(val, str):
            val = val.encode()
        elif isinstance(val, int):
            val = val.to_bytes((val.bit_length() + 7) // 8, "big")
        d, dx = _ext(num - last)
        ln, lx = _ext(len(val))
        out += bytes([d << 4 | ln]) + dx + lx + val
        last = num
    if payload:
        out += b"\xff" + payload
    return bytes(out)


def path_options(path):
    """Uri-Path options of "a/b", and Uri-Query options of what follows a "?"
    ("a/b?x=1&y")."""
    path, _, query = path.partition("?")
    return ([(URI_PATH, seg) for seg in path.strip("/").split("/") if seg]
            + [(URI_QUERY, q) for q in query.split("&") if q])


def parse(data):
    """dict(type, code, mid, token, options=[(num, bytes)], payload) or None if malformed."""
    try:
        return _parse(data)
    except (IndexError, struct.error):
        return None


def _parse(data):
    if len(data) < 4 or data[0] >> 6 != 1:
        return None
    tkl = data[0] & 15
    if tkl > 8 or len(data) < 4 + tkl:
        return None
    msg = {"type": data[0] >> 4 & 3, "code": data[1], "mid": struct.unpack(">H", data[2:4])[0],
           "token": bytes(data[4:4 + tkl]), "options": [], "payload": b""}
    i, num = 4 + tkl, 0
    while i < len(data):
        b = data[i]
        i += 1
        if b == 0xFF:
            msg["payload"] = bytes(data[i:])
            if not msg["payload"]:
                return None
            break
        vals = []
        for nib in (b >> 4, b & 15):
            if nib == 13:
                vals.append(data[i] + 13)
                i += 1
            elif nib == 14:
                vals.append(struct.unpack(">H", data[i:i + 2])[0] + 269)
                i += 2
            elif nib == 15:
                return None
            else:
                vals.append(nib)
        num += vals[0]
        if i + vals[1] > len(data) or num > 0xFFFF:
            return None
        msg["options"].append((num, bytes(data[i:i + vals[1]])))
        i += vals[1]
    return msg


def option(msg, num):
    for n, v in msg["options"]:
        if n == num:
            return v
    return None


class Client:
    """A CPython CoAP client on its own socket: confirmable requests with retries."""

    def __init__(self, server, seed=1):
        self.server = server
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((HOST, 0))
        self.rng = random.Random(seed)
        self.mid = self.rng.randrange(0x10000)
        self.datagrams = 0  # sent, retransmissions included

    def close(self):
        self.s.close()

    def request(self, mcode, path, payload=b"", options=(), timeout=2.0, tries=3):
        self.mid = (self.mid + 1) & 0xFFFF
        token = bytes(self.rng.randrange(256) for _ in range(4))
        req = build(CON, mcode, self.mid, token, path_options(path) + list(options), payload)
        for _ in range(tries):
            self.s.sendto(req, self.server)
            self.datagrams += 1
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                self.s.settimeout(max(0.01, end - time.monotonic()))
                try:
                    data = self.s.recv(4096)
                except socket.timeout:
                    break
                msg = parse(data)
                if msg and msg["mid"] == self.mid and msg["type"] in (ACK, RST):
                    if msg["type"] == ACK:
                        assert msg["token"] == token, "token %r != %r" % (msg["token"], token)
                    return msg
        raise AssertionError("no response to %s %s from %s" % (mcode, path, self.server))

    def control(self, cmd):
        """PUT a command into the server's /ctl resource."""
        msg = self.request(PUT, "ctl", payload=cmd)
        assert msg["code"] == C204, msg
        return msg
