# Device-portable helpers for the coap test scripts: a small CoAP (RFC 7252)
# encoder/decoder, loopback socket helpers and assertion helpers.
# Only builtins, time and (optionally) socket/select are used, so this runs on
# the unix port, a device and the qemu port without sockets.

import time

try:
    import socket
except ImportError:
    socket = None
try:
    import select
except ImportError:
    select = None
try:
    import _thread
except ImportError:
    _thread = None
try:
    import os
except ImportError:
    os = None

import coap

# message types
CON = 0
NON = 1
ACK = 2
RST = 3

# codes
def code(cls, detail):
    return (cls << 5) | detail

EMPTY = 0
GET = 1
POST = 2
PUT = 3
DELETE = 4
C201 = code(2, 1)
C202 = code(2, 2)
C203 = code(2, 3)
C204 = code(2, 4)
C205 = code(2, 5)
C231 = code(2, 31)
C400 = code(4, 0)
C402 = code(4, 2)
C404 = code(4, 4)
C405 = code(4, 5)
C406 = code(4, 6)
C408 = code(4, 8)
C412 = code(4, 12)
C413 = code(4, 13)
C415 = code(4, 15)
C500 = code(5, 0)
C503 = code(5, 3)
C505 = code(5, 5)

# option numbers
IF_MATCH = 1
URI_HOST = 3
ETAG = 4
IF_NONE_MATCH = 5
OBSERVE = 6
URI_PORT = 7
URI_PATH = 11
CONTENT_FORMAT = 12
MAX_AGE = 14
URI_QUERY = 15
ACCEPT = 17
BLOCK2 = 23
BLOCK1 = 27
SIZE2 = 28
PROXY_URI = 35
PROXY_SCHEME = 39
SIZE1 = 60

ERR_NOT_INIT = "Coap module has not been initialized!"
ERR_ALREADY_INIT = "Coap module already initialized!"
ERR_EXISTS = "Resource already exists or cannot be created!"
ERR_SESSION_NOT_REMOVED = "Client Session has not been removed"
ERR_METHOD = 'Invalid "method" parameter value!'

HAVE_SOCKET = socket is not None
HAVE_THREAD = _thread is not None

ALL_METHODS = coap.REQUEST_GET | coap.REQUEST_PUT | coap.REQUEST_POST | coap.REQUEST_DELETE


def uint(n):
    # minimal big-endian encoding (0 -> b'')
    out = b""
    while n:
        out = bytes((n & 0xFF,)) + out
        n >>= 8
    return out


def to_uint(b):
    n = 0
    for x in b:
        n = (n << 8) | x
    return n


def _ext(v):
    if v < 13:
        return v, b""
    if v < 269:
        return 13, bytes((v - 13,))
    v -= 269
    return 14, bytes((v >> 8, v & 0xFF))


def enc(s):
    if isinstance(s, str):
        return s.encode()
    return bytes(s)


def build(mtype, mcode, mid, token=b"", options=(), payload=b"", ver=1, sort=True):
    """Encode a CoAP message. options: iterable of (number, value) with value
    bytes/str/int (int -> minimal uint)."""
    token = enc(token)
    opts = []
    for num, val in options:
        if isinstance(val, int):
            val = uint(val)
        opts.append((num, enc(val)))
    if sort:
        # stable sort by option number (keeps repeat order)
        opts = [o for _, o in sorted([(o[0] * 1000 + i, o) for i, o in enumerate(opts)])]
    out = bytearray()
    out.append((ver << 6) | (mtype << 4) | len(token))
    out.append(mcode)
    out.append((mid >> 8) & 0xFF)
    out.append(mid & 0xFF)
    out += token
    last = 0
    for num, val in opts:
        d, dx = _ext(num - last)
        l, lx = _ext(len(val))
        out.append((d << 4) | l)
        out += dx
        out += lx
        out += val
        last = num
    payload = enc(payload)
    if payload:
        out.append(0xFF)
        out += payload
    return bytes(out)


def raw_option_header(delta, length):
    # one option header byte with raw nibbles (for malformed messages)
    return bytes(((delta << 4) | length,))


class Msg:
    def __init__(self, ver, mtype, mcode, mid, token, options, payload):
        self.ver = ver
        self.type = mtype
        self.code = mcode
        self.mid = mid
        self.token = token
        self.options = options
        self.payload = payload

    def opts(self, num):
        return [v for n, v in self.options if n == num]

    def opt(self, num):
        for n, v in self.options:
            if n == num:
                return v
        return None

    def has(self, num):
        return self.opt(num) is not None

    def numbers(self):
        return [n for n, _ in self.options]

    def path(self):
        return "/".join([v.decode() for v in self.opts(URI_PATH)])

    def __repr__(self):
        return "Msg(t=%d c=%d.%02d mid=%d tok=%r opts=%r pl=%r)" % (
            self.type, self.code >> 5, self.code & 31, self.mid, self.token,
            self.options, self.payload)


def parse(data):
    """Decode a CoAP message; raises ValueError on a format error."""
    data = bytes(data)
    if len(data) < 4:
        raise ValueError("short")
    ver = data[0] >> 6
    mtype = (data[0] >> 4) & 3
    tkl = data[0] & 15
    if tkl > 8:
        raise ValueError("tkl")
    mcode = data[1]
    mid = (data[2] << 8) | data[3]
    i = 4 + tkl
    if i > len(data):
        raise ValueError("token")
    token = data[4:i]
    options = []
    last = 0
    payload = b""
    while i < len(data):
        b = data[i]
        i += 1
        if b == 0xFF:
            payload = data[i:]
            if not payload:
                raise ValueError("empty payload after marker")
            break
        d = b >> 4
        l = b & 15
        if d == 15 or l == 15:
            raise ValueError("nibble 15")
        if d == 13:
            d = data[i] + 13
            i += 1
        elif d == 14:
            d = ((data[i] << 8) | data[i + 1]) + 269
            i += 2
        if l == 13:
            l = data[i] + 13
            i += 1
        elif l == 14:
            l = ((data[i] << 8) | data[i + 1]) + 269
            i += 2
        last += d
        if i + l > len(data):
            raise ValueError("option overruns")
        options.append((last, data[i:i + l]))
        i += l
    return Msg(ver, mtype, mcode, mid, token, options, payload)


def request(method, path=None, mid=0x1234, token=b"", mtype=CON, options=(), payload=b"", query=None):
    opts = []
    if path is not None:
        for seg in path.split("/"):
            if seg:
                opts.append((URI_PATH, seg))
    if query:
        for q in query:
            opts.append((URI_QUERY, q))
    opts.extend(options)
    return build(mtype, method, mid, token, opts, payload)


# ---------------------------------------------------------------- engine hook

# The address form coap._process() takes (contract: a private hook that runs
# one datagram through the server engine without a network).
PEER = ("127.0.0.1", 40000)
PEER2 = ("127.0.0.1", 40001)

_mid = [0x100]


def next_mid():
    _mid[0] = (_mid[0] + 1) & 0xFFFF
    return _mid[0]


def process(data, addr=PEER):
    """Run one datagram through the engine; returns the parsed reply or None."""
    reply = coap._process(data, addr)
    if reply is None or len(reply) == 0:
        return None
    return parse(reply)


def ask(method, path=None, token=b"", mtype=CON, options=(), payload=b"", query=None, addr=PEER, mid=None):
    if mid is None:
        mid = next_mid()
    return process(request(method, path, mid, token, mtype, options, payload, query), addr)


# ---------------------------------------------------------------- assertions

def raises(tc, exc, fn, *args, **kw):
    """Call fn; assert it raises exactly `exc` (or a subclass); return the exception."""
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    except Exception as e:
        tc.fail("%s raised %r, expected %s" % (getattr(fn, "__name__", fn), e, exc.__name__))
    tc.fail("%s did not raise %s" % (getattr(fn, "__name__", fn), exc.__name__))


def msg_of(e):
    return e.args[0] if e.args else ""


def raises_msg(tc, exc, text, fn, *args, **kw):
    e = raises(tc, exc, fn, *args, **kw)
    tc.assertEqual(msg_of(e), text)
    return e


def raises_mentioning(tc, exc, word, fn, *args, **kw):
    # our own checks name the argument (contract "Errors")
    e = raises(tc, exc, fn, *args, **kw)
    tc.assertTrue(word in str(msg_of(e)), "%r does not mention %r" % (msg_of(e), word))
    return e


def deinit_quiet():
    try:
        coap.deinit()
    except Exception:
        pass


_vmax = []


def value_max():
    """The largest resource value: the documented constant if the module
    exports it, else found by probing value() (needs init)."""
    for name in ("VALUE_MAX", "MAX_VALUE", "VALUE_SIZE_MAX"):
        v = getattr(coap, name, None)
        if isinstance(v, int):
            return v
    if not _vmax:
        r = coap.add_resource("__probe__")
        _vmax.append(_largest(0, 4096, lambda n: r.value(b"x" * n)))
        coap.remove_resource("__probe__")
    return _vmax[0]


def _largest(lo, hi, probe):
    """The largest n in lo..hi for which probe(n) does not raise ValueError
    (it raises for every n above some bound and for none below), by
    bisection."""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        try:
            probe(mid)
            lo = mid
        except ValueError:
            hi = mid - 1
    return lo


_mmax = []


def message_max():
    """The largest datagram the module handles, found by probing _process()
    (which refuses longer ones) with a version-2 datagram (ignored)."""
    if not _mmax:
        _mmax.append(_largest(4, 65536, lambda n: coap._process(b"\x80" * n)))
    return _mmax[0]


def remote_budget():
    """The default remote budget in bytes (docs/api.md: Coap.REMOTE_BUDGET;
    `Coap` is the module itself)."""
    return coap.REMOTE_BUDGET


# ---------------------------------------------------------------- block-wise

def block(num, more, szx):
    """A Block1/Block2 option value (RFC 7959 \u00a72.2)."""
    return uint((num << 4) | (8 if more else 0) | szx)


def block_of(m, number=BLOCK2):
    """(num, more, szx) of the message's Block option, or None."""
    v = m.opt(number)
    if v is None:
        return None
    n = to_uint(v)
    return (n >> 4, bool(n & 8), n & 7)


def same(tc, got, want):
    """tc.assertEqual for large bytes: the unittest of the firmware formats
    both values into its message even when they are equal, which a small
    heap cannot do for 16 KiB values."""
    if got is want or got == want:
        return
    if not isinstance(got, (bytes, bytearray)):
        tc.fail("got %r, expected %d bytes" % (got, len(want)))
    i = 0
    while i < min(len(got), len(want)) and got[i] == want[i]:
        i += 1
    tc.fail("%d bytes, expected %d; first difference at byte %d" % (len(got), len(want), i))


def get_blockwise(path, szx=None, token=b"", query=None, addr=PEER, options=(), expect=None):
    """GET `path` as a client does with Block2: the first request asks for
    block 0 of `szx` (None: asks for no size), then each next block in the
    size the server answered. Returns (code of the last answer, the
    payload, the answers). With `expect` (bytes), each block is compared with
    its part of `expect` as it arrives and nothing is accumulated (small
    heaps): the payload returned is `expect` itself if every block matched
    (it may be a Filler: only slices of it are made), else a
    description of the first mismatch, and the answers keep only the length
    of their payload."""
    answers, chunks, num, at = [], [], 0, 0
    mismatch = None
    while True:
        opts = list(options)
        if szx is not None or num:
            opts.append((BLOCK2, block(num, False, szx if szx is not None else answers[-1][2])))
        m = ask(GET, path, token=token, query=query, addr=addr, options=opts)
        b = block_of(m)
        if expect is None:
            chunks.append(m.payload)
        else:
            n = len(m.payload)
            if mismatch is None and expect[at:at + n] != m.payload:
                mismatch = "block at byte %d differs (%d bytes)" % (at, n)
            at += n
            m.payload = n
        answers.append((m, b, b[2] if b else None))
        if m.code != C205 or b is None or not b[1]:
            if expect is None:
                body = b"".join(chunks)
            elif mismatch is None and at == len(expect):
                body = expect
            else:
                body = mismatch or "%d bytes, expected %d" % (at, len(expect))
            return m.code, body, [a[0] for a in answers]
        if szx is None:
            szx = b[2]
        num = b[0] + 1


class Filler:
    """`n` bytes `b`, made a slice at a time: a payload for put_blockwise
    that a small heap need not hold whole."""

    def __init__(self, b, n):
        self.b, self.n = b, n

    def __len__(self):
        return self.n

    def __getitem__(self, s):
        start, stop = s.start or 0, self.n if s.stop is None else s.stop
        return self.b * max(0, min(stop, self.n) - start)


def put_blockwise(path, payload, szx=6, method=PUT, addr=PEER, options=(), size1=True, nums=None):
    """PUT (or POST) `payload` in Block1 blocks of `szx` (the first with
    Size1 = the total, as libcoap's client sends it, unless `size1` is
    false); returns the answers, stopping at the first that is not 2.31
    Continue. `nums`: only these block numbers (default: all)."""
    size = 16 << szx
    n = max(1, (len(payload) + size - 1) // size)
    answers = []
    for num in range(n) if nums is None else nums:
        more = num + 1 < n
        opts = list(options) + [(BLOCK1, block(num, more, szx))]
        if num == 0 and size1:
            opts.append((SIZE1, uint(len(payload))))
        m = ask(method, path, options=opts, payload=bytes(payload[num * size:(num + 1) * size]), addr=addr)
        answers.append(m)
        if not more or m.code != C231:
            break
    return answers


# What the module answers a remote PUT/POST that the heap cannot supply:
# 5.03 with this Max-Age, seconds (docs/api.md; no constant states it to
# Python).
RETRY_AFTER_S = 5



def storage():
    """coap._storage(): (blocks, bytes, remote_bytes, remote_budget) the
    engine holds."""
    return tuple(coap._storage())


def fail_storage(k):
    """The k-th next storage request of the module is refused as if the
    heap were empty (0: none is)."""
    coap._fail_storage(k)


# ---------------------------------------------------------------- timers

# What tests that wait on protocol timers, but do not test their real scale,
# shorten ACK_TIMEOUT to.
ACK_TIMEOUT_SHORT_MS = 100


def ack_timeout(ms=0):
    """Shortens ACK_TIMEOUT to `ms` through the private knob of hosted builds
    (coap._set_ack_timeout; 0 keeps the shipped value) and returns the
    ACK_TIMEOUT in force. Where the knob does not exist (firmware), that is
    RFC 7252's ACK_TIMEOUT, which the module ships."""
    knob = getattr(coap, "_set_ack_timeout", None)
    if knob is not None:
        return knob(ms)
    return 2000


def long_timers(tc):
    """Skips a test that waits seconds on the shipped protocol timers when
    the runner says another build runs it (tests/run.py sets
    MPCOAP_LONG_TIMERS=0 for every build but the first)."""
    getenv = getattr(os, "getenv", None)
    if getenv is not None and getenv("MPCOAP_LONG_TIMERS") == "0":
        tc.skipTest("long timer test: runs on the first unix build only")


# ---------------------------------------------------------------- time

def ticks():
    return time.ticks_ms()


def since(t0):
    return time.ticks_diff(time.ticks_ms(), t0)


def sleep_ms(ms):
    time.sleep_ms(ms)


# ---------------------------------------------------------------- sockets

_port = [0]


def _rand16():
    try:
        import random
        return random.getrandbits(16)
    except Exception:
        return time.ticks_us() & 0xFFFF


def candidate_ports():
    # random high ports, different on every call
    if not _port[0]:
        _port[0] = 20000 + _rand16() % 30000
    for _ in range(50):
        _port[0] += 1 + _rand16() % 97
        if _port[0] > 60000:
            _port[0] = 20000 + _rand16() % 1000
        yield _port[0]


def sockaddr(host, port):
    return socket.getaddrinfo(host, port)[0][-1]


def udp_peer(host="127.0.0.1"):
    """A bound UDP socket on a free port: returns (sock, port)."""
    for p in candidate_ports():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(sockaddr(host, p))
            return s, p
        except OSError:
            s.close()
    raise OSError("no free port")


def init_server(host="127.0.0.1", **kw):
    """coap.init on a free port; returns the port."""
    last = None
    for p in candidate_ports():
        try:
            coap.init(host, port=p, **kw)
            return p
        except OSError as e:
            last = e
    raise last


def recv(sock, timeout_ms=2000):
    """(data, addr) or (None, None) on timeout."""
    p = select.poll()
    p.register(sock, select.POLLIN)
    r = p.poll(timeout_ms)
    if not r:
        return None, None
    return sock.recvfrom(2048)


def recv_msg(sock, timeout_ms=2000):
    data, addr = recv(sock, timeout_ms)
    if data is None:
        return None, None
    return parse(data), addr


def drain(sock, timeout_ms=50):
    n = 0
    while recv(sock, timeout_ms)[0] is not None:
        n += 1
    return n


def read_until(pred, total_ms=3000, step_ms=100):
    """Call coap.read(step) until pred() is true or total_ms elapsed."""
    t0 = ticks()
    while not pred():
        if since(t0) > total_ms:
            return False
        coap.read(step_ms)
    return True


class Recorder:
    """A response handler that records its calls."""

    def __init__(self):
        self.calls = []

    def __call__(self, code_, mid, mtype, token, payload):
        self.calls.append((code_, mid, mtype, token, payload))


def need_socket(tc):
    if socket is None or select is None:
        tc.skipTest("no socket module on this port")


def need_thread(tc):
    if _thread is None:
        tc.skipTest("no _thread on this port")


def port_of(addr):
    # recvfrom() address: a tuple on lwIP ports, raw sockaddr bytes on unix
    if isinstance(addr, tuple):
        return addr[1]
    return (addr[2] << 8) | addr[3]


class Peer:
    """A plain UDP socket playing a CoAP server for the module's client."""

    def __init__(self):
        self.sock, self.port = udp_peer()

    def close(self):
        self.sock.close()

    def expect(self, timeout_ms=2000):
        """Next datagram as (Msg, addr); (None, None) on timeout."""
        return recv_msg(self.sock, timeout_ms)

    def reply(self, addr, mtype, mcode, mid, token=b"", options=(), payload=b""):
        self.sock.sendto(build(mtype, mcode, mid, token, options, payload), addr)

    def ack(self, req, addr, mcode=C205, payload=b"", options=()):
        self.reply(addr, ACK, mcode, req.mid, req.token, options, payload)


def requires(*checks):
    """Class decorator: every test method first runs the checks (which call
    skipTest). Skipping must happen inside the test method: some unittest
    versions call setUp() outside their try block, so a skip raised there
    would end the whole script. setUp() of such classes returns early when
    HAVE_SOCKET / HAVE_THREAD is false."""
    def deco(cls):
        for name in dir(cls):
            if not name.startswith("test"):
                continue
            fn = getattr(cls, name)
            if not callable(fn):
                continue

            def wrapped(self, _fn=fn):
                for check in checks:
                    check(self)
                return _fn(self)
            setattr(cls, name, wrapped)
        return cls
    return deco
