"""Shared pieces of the stress tests (CPython): the MicroPython binaries, processes
stopped by PID, free loopback ports, and a small RFC 7252 encoder/decoder.

Environment: MICROPYTHON (unix build with the module), MICROPYTHON_GIL (the
GIL build), MPCOAP_ROOT (repository root).
"""

import os
import queue
import random
import signal
import socket
import struct
import subprocess
import threading
import time

ROOT = os.environ.get("MPCOAP_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))
HOST = "127.0.0.1"

CON, NON, ACK, RST = 0, 1, 2, 3
GET, POST, PUT, DELETE = 1, 2, 3, 4
URI_PATH, ETAG_OPT, CONTENT_FORMAT, MAX_AGE = 11, 4, 12, 14


def code(c, d):
    return c << 5 | d


C204, C205 = code(2, 4), code(2, 5)


def micropython(gil=False):
    """Path of the unix binary; fails (not skips) when it is missing."""
    var = "MICROPYTHON_GIL" if gil else "MICROPYTHON"
    default = os.path.join(ROOT, "build", "unix-gil" if gil else "unix", "micropython")
    path = os.environ.get(var) or default
    if not os.access(path, os.X_OK):
        raise AssertionError("%s: no MicroPython binary at %s (run make unix unix-gil)" % (var, path))
    return path


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Proc:
    """A child process whose stdout lines are collected by a thread; stopped by PID."""

    def __init__(self, argv, cwd=None, env=None):
        self.argv = argv
        self.p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.pid = self.p.pid
        self.lines = queue.Queue()
        self.all = []
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self):
        for raw in self.p.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.all.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def expect(self, prefix, timeout=10.0):
        """The next line starting with prefix (other lines are skipped)."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("%s: no %r line within %.0f s; output:\n%s"
                                     % (self.argv[-1], prefix, timeout, self.output()))
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("%s exited (rc %s) before printing %r; output:\n%s"
                                     % (self.argv, self.p.wait(), prefix, self.output()))
            if line.startswith(prefix):
                return line

    def output(self):
        return "\n".join(self.all[-60:])

    def alive(self):
        return self.p.poll() is None

    def wait(self, timeout):
        return self.p.wait(timeout)

    def stop(self):
        """SIGTERM, then SIGKILL, by PID."""
        if self.p.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.p.wait(3)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait(3)
            except ProcessLookupError:
                pass
        self._t.join(3)
        if self.p.stdout:
            self.p.stdout.close()


def mp_server(port, *extra, gil=False):
    """The module's server (tests/stress/mp_server.py) on `port`, once it says ready."""
    p = Proc([micropython(gil), os.path.join(HERE, "mp_server.py"), str(port)] + [str(x) for x in extra])
    p.expect("ready", 15)
    return p


# ---- RFC 7252 wire format (just what the tests need) ------------------------

def _ext(v):
    if v < 13:
        return v, b""
    if v < 269:
        return 13, bytes([v - 13])
    return 14, struct.pack(">H", v - 269)


def build(mtype, mcode, mid, token=b"", options=(), payload=b""):
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
    return [(URI_PATH, seg) for seg in path.strip("/").split("/") if seg]


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
