"""Block-wise transfer (RFC 7959), server side, against real peers: libcoap's
coap-client (4.3.1), aiocoap, and raw CPython datagrams that check every
option of the ETSI CoAP#4 plugtest scenarios TD_COAP_BLOCK_01, 02, 03 and 06.

One MicroPython server (SCRIPT below) serves every test of the file: the
resources of TABLE, each test writing only its own, then MANY small
resources with two attributes each, so that /.well-known/core needs many
blocks (issue 10's case). Values are support.pattern() bytes, in which a
shifted, repeated or missing block shows. The script's /ctl resource takes
commands ("dump URI": print the stored value; "bump URI": the application
stores a new value; "add URI", "remove URI": a resource), read between
read() calls. The limits come from the
module: the script prints Coap.VALUE_MAX and runs with a remote budget large
enough for every PUT here (REMOTE_BUDGET_FACTOR times VALUE_MAX), so that
VALUE_MAX is the limit under test.
"""

import asyncio
import os
import re
import socket
import tempfile
import time
import unittest

import os as _os, sys as _sys
_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))), "cpython"))
import support as s  # noqa: E402  (tests/cpython/support.py)

try:
    import aiocoap
    from aiocoap import Code, Message
except ImportError:  # pragma: no cover
    aiocoap = None

KB = 1024
LARGE = 10 * KB + 100       # not a multiple of any block size: a short last block
EXACT = 4 * KB              # a multiple of every block size: a full last block
SMALL = 40                  # fits one message; three 16-byte blocks
MANY = 500
REMOTE_BUDGET_FACTOR = 8  # the PUTs below hold about 3 VALUE_MAX together

# (uri, initial length, pattern seed, etag): the resources of the script, in
# the order they are added (after /ctl; then /typed, with a media type, and
# the MANY small ones). Each test writes only its own.
TABLE = (
    ("large", LARGE, 0, False),
    ("large-etag", LARGE, 0, True),
    ("exact", EXACT, 0, False),
    ("small", SMALL, 0, False),
    ("changing", LARGE, 0, False),
    ("changing-etag", LARGE, 0, True),
    ("libcoap-update", 0, 0, True),
    ("aiocoap-update", 0, 0, True),
    ("large-update", 0, 0, True),    # TD_COAP_BLOCK_03's resource
    ("raw-update", 0, 0, True),
    ("dup-update", 0, 0, True),
    ("limit-update", 0, 0, True),
    ("shared-update", 0, 0, True),
    ("post-update", 0, 0, True),
    ("full-update", 0, 0, True),
    ("side-update", 0, 0, True),
    ("atomic", EXACT, 0, False),
)

SCRIPT = s.PATTERN_SRC + "TABLE = %r\nREMOTE_BUDGET_FACTOR = %d\n" % (TABLE, REMOTE_BUDGET_FACTOR) + r'''
import sys
from binascii import hexlify

import coap

port, many = int(sys.argv[1]), int(sys.argv[2])
coap.init("127.0.0.1", port=port, remote_budget=REMOTE_BUDGET_FACTOR * coap.VALUE_MAX)
ALL = coap.REQUEST_GET | coap.REQUEST_PUT | coap.REQUEST_POST
IDLE = b"."
ctl = coap.add_resource("ctl", value=IDLE)
ctl.callback(coap.REQUEST_GET | coap.REQUEST_PUT, True)
res, seeds = {}, {}
for uri, n, seed, etag in TABLE:
    r = coap.add_resource(uri, value=pattern(n, seed), etag=etag)
    r.callback(ALL, True)
    res[uri], seeds[uri] = r, seed
r = coap.add_resource("typed", value=b"{}", media_type=coap.MEDIATYPE_APP_JSON)
r.callback(ALL, True)
for i in range(many):
    r = coap.add_resource("r%d" % i, value=b"x")
    r.add_attribute("rt", "t%d" % i)
    r.add_attribute("if", "sensor")
    r.callback(coap.REQUEST_GET, True)
r = None
print("READY", coap.VALUE_MAX, coap.REMOTE_BUDGET)
while True:
    coap.read(20)
    cmd = ctl.value()
    if cmd == IDLE:
        continue
    ctl.value(IDLE)
    verb, _, uri = cmd.decode().partition(" ")
    if verb == "dump":
        v = res[uri].value()
        print("VALUE", uri, len(v), hexlify(v).decode())
    elif verb == "add":
        coap.add_resource(uri, value=b"").callback(coap.REQUEST_GET, True)
        print("ADDED", uri)
    elif verb == "remove":
        coap.remove_resource(uri)
        print("REMOVED", uri)
    elif verb == "bump":
        seeds[uri] += 1
        res[uri].value(pattern(len(res[uri].value()), seeds[uri]))
        print("BUMPED", uri, seeds[uri])
    else:
        print("UNKNOWN", cmd)
'''


def links(many):
    """/.well-known/core of the script, by RFC 6690: links in the order the
    resources were added, separated by commas; rt's and if's values are
    ptokens, written unquoted."""
    out = ["</ctl>"] + ["</%s>" % t[0] for t in TABLE] + ["</typed>"]
    out += ["</r%d>;rt=t%d;if=sensor" % (i, i) for i in range(many)]
    return ",".join(out).encode()


class Raw:
    """One CPython endpoint: a confirmable request, its piggybacked answer."""

    def __init__(self, port):
        self.server = (s.HOST, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((s.HOST, 0))
        self.sock.settimeout(5)
        self.mid = int.from_bytes(os.urandom(2), "big")

    def close(self):
        self.sock.close()

    def next_mid(self):
        self.mid = (self.mid + 1) & 0xFFFF
        return self.mid

    def datagram(self, mcode, path, options=(), payload=b"", token=b"bw", mid=None):
        return s.build(s.CON, mcode, self.next_mid() if mid is None else mid, token,
                       s.path_options(path) + list(options), payload)

    def send(self, datagram):
        """(parsed answer, its bytes) to one datagram (no retransmission on
        loopback)."""
        mid = datagram[2] << 8 | datagram[3]
        self.sock.sendto(datagram, self.server)
        end = time.monotonic() + 5
        while time.monotonic() < end:
            data = self.sock.recv(4096)
            msg = s.parse(data)
            if msg and msg["mid"] == mid:
                return msg, data
        raise AssertionError("no answer to MID %04x" % mid)

    def req(self, mcode, path, options=(), payload=b"", token=b"bw"):
        msg, _ = self.send(self.datagram(mcode, path, options, payload, token))
        assert msg["type"] == s.ACK, msg
        assert msg["token"] == token, msg
        return msg


def cname(c):
    return "%d.%02d" % (c >> 5, c & 31)


class Blockwise(s.MPTestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = s.free_port()
        fd, cls.script_path = tempfile.mkstemp(suffix=".py", prefix="mpcoap_blk_")
        with os.fdopen(fd, "w") as f:
            f.write(SCRIPT)
        cls.srv = s.Proc([s.micropython(required=True), cls.script_path, str(cls.port), str(MANY)],
                         env=s.mp_env())
        line = cls.srv.wait_line("READY", 30)
        if line is None:
            cls.srv.stop()
            os.unlink(cls.script_path)
            raise AssertionError("block-wise server did not start:\n" + cls.srv.output())
        cls.value_max = int(line.split()[1])

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        os.unlink(cls.script_path)

    def setUp(self):
        self.raw = Raw(self.port)
        self.addCleanup(self.raw.close)

    def uri(self, path):
        return "coap://127.0.0.1:%d/%s" % (self.port, path)

    # ---- the MicroPython side ----

    def ctl(self, cmd, answer):
        """PUT a command into /ctl; the script's next line starting with answer."""
        r = self.raw.req(s.PUT, "ctl", payload=cmd.encode())
        self.assertEqual(r["code"], s.C204, r)
        return self.srv.expect(answer, 10)

    def stored(self, uri):
        """The value the module holds for uri, read by the application."""
        line = self.ctl("dump " + uri, "VALUE " + uri + " ")
        _, _, n, *hexed = line.split(" ")
        v = bytes.fromhex(hexed[0] if hexed else "")
        self.assertEqual(len(v), int(n))
        return v

    def same_answer(self, again, first, what):
        """The duplicate's answer is the first one, byte for byte."""
        if again != first:
            a, f = s.parse(again), s.parse(first)
            self.fail("%s: the duplicate's answer differs:\n%r\n%r (first)" % (what, a, f))

    def same(self, got, want, what):
        """got == want, else where they first differ (not 10 KB of bytes)."""
        if got != want:
            at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            self.fail("%s: %d bytes, %d expected, first difference at byte %d" % (what, len(got), len(want), at))

    # ---- raw block-wise exchanges ----

    def etag(self, uri):
        """The ETag counter of a resource with etag=True (a plain GET)."""
        r = self.raw.req(s.GET, uri)
        self.assertEqual(r["code"], s.C205, r)
        e = s.option(r, s.ETAG_OPT)
        self.assertIsNotNone(e, "no ETag: %r" % r)
        return int.from_bytes(e, "big")

    def get_blocks(self, uri, szx, first=0, first_block2=True, expect_len=None):
        """A Block2 GET of uri from block `first` (request SZX szx; no Block2
        in the first request with first_block2=False) to M=0, checking every
        response as the plugtests do: 2.05, Block2 with the NUM asked and
        the request's SZX, a full block while M=1 and 1..size bytes at M=0,
        and one ETag in all. Returns (payload, responses)."""
        size = 1 << (szx + 4)
        num, out, got, etag = first, b"", [], None
        while True:
            opts = [(s.BLOCK2, s.block(num, 0, szx))] if (num != first or first_block2) else []
            r = self.raw.req(s.GET, uri, opts)
            got.append(r)
            self.assertEqual(r["code"], s.C205, "block %d: %r" % (num, r))
            b2 = s.block_of(r, s.BLOCK2)
            self.assertIsNotNone(b2, "block %d: no Block2 in %r" % (num, r))
            self.assertEqual((b2[0], b2[2]), (num, szx), "block %d: Block2 %r" % (num, b2))
            e = s.option(r, s.ETAG_OPT)
            self.assertIsNotNone(e, "block %d: no ETag" % num)
            if etag is None:
                etag = e
            self.assertEqual(e, etag, "block %d: the ETag changed while the value did not" % num)
            if b2[1]:
                self.assertEqual(len(r["payload"]), size, "block %d, M=1" % num)
            else:
                self.assertTrue(1 <= len(r["payload"]) <= size, "last block %d: %d bytes" % (num, len(r["payload"])))
            out += r["payload"]
            if not b2[1]:
                break
            num += 1
        if expect_len is not None:
            self.assertEqual(len(out), expect_len - first * size)
        return out, got

    def put_blocks(self, uri, payload, szx, mcode=None):
        """A Block1 PUT of payload in blocks of SZX szx, checking each answer:
        2.31 with Block1 (NUM, M=1, SZX) while M=1, 2.04 with Block1 (NUM,
        M=0, SZX) for the last. Returns the last answer."""
        size = 1 << (szx + 4)
        n = max(1, (len(payload) + size - 1) // size)
        for num in range(n):
            more = num < n - 1
            r = self.raw.req(mcode or s.PUT, uri, [(s.BLOCK1, s.block(num, more, szx))],
                             payload[num * size:(num + 1) * size])
            want = s.C231 if more else s.C204
            self.assertEqual(cname(r["code"]), cname(want), "block %d of %d: %r" % (num, n, r))
            self.assertEqual(s.block_of(r, s.BLOCK1), (num, int(more), szx), "block %d: %r" % (num, r))
        return r

    # ---- libcoap's coap-client ----

    def coap_client(self, path, method="get", extra=(), timeout=60):
        """(exit status, exact payload, text) of coap-client-notls -o FILE."""
        s.need_tool(self, "coap-client-notls")
        fd, out = tempfile.mkstemp(prefix="mpcoap_blk_")
        os.close(fd)
        self.addCleanup(os.unlink, out)
        r = s.run(["coap-client-notls", "-B", str(timeout), "-m", method, "-o", out] + list(extra)
                  + [self.uri(path)], timeout=timeout + 10)
        with open(out, "rb") as f:
            return r.returncode, f.read(), r.stdout.decode("utf-8", "replace")

    def test_libcoap_get_16_64_1024(self):
        want = s.pattern(LARGE)
        for size in (16, 64, 1024):
            rc, got, text = self.coap_client("large", extra=["-b", str(size)])
            self.assertEqual(rc, 0, text)
            self.same(got, want, "coap-client -b %d" % size)

    def test_libcoap_put_64(self):
        payload = s.pattern(LARGE, 5)
        fd, path = tempfile.mkstemp(prefix="mpcoap_blk_put_")
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        self.addCleanup(os.unlink, path)
        before = self.etag("libcoap-update")
        rc, _, text = self.coap_client("libcoap-update", "put", ["-b", "64", "-f", path])
        self.assertEqual(rc, 0, text)
        self.same(self.stored("libcoap-update"), payload, "the stored value differs")
        rc, got, text = self.coap_client("libcoap-update", extra=["-b", "64"])
        self.assertEqual(rc, 0, text)
        self.same(got, payload, "GET after PUT differs")
        self.assertEqual(self.etag("libcoap-update") - before, 1, "the PUT was applied exactly once")

    # ---- aiocoap ----

    def aiocoap(self, *requests):
        """aiocoap responses to (code, path, payload) requests, in order."""
        if aiocoap is None:
            self.skipTest("aiocoap not installed")

        async def go():
            ctx = await aiocoap.Context.create_client_context()
            try:
                out = []
                for mcode, path, payload in requests:
                    msg = Message(code=mcode, uri=self.uri(path), payload=payload)
                    out.append(await asyncio.wait_for(ctx.request(msg).response, 30))
                return out
            finally:
                await ctx.shutdown()
        return asyncio.run(go())

    def test_aiocoap_get_put(self):
        five, twelve = s.pattern(5 * KB, 7), s.pattern(12 * KB, 8)
        r = self.aiocoap((Code.GET, "large", b""),
                         (Code.PUT, "aiocoap-update", five),
                         (Code.GET, "aiocoap-update", b""))
        self.assertEqual(r[0].code, Code.CONTENT)
        self.same(r[0].payload, s.pattern(LARGE), "GET of %d bytes differs" % LARGE)
        self.assertEqual(r[1].code, Code.CHANGED)
        self.assertEqual(r[2].code, Code.CONTENT)
        self.same(r[2].payload, five, "5 KB: GET after PUT differs")
        self.same(self.stored("aiocoap-update"), five, "value stored on the module")
        r = self.aiocoap((Code.PUT, "aiocoap-update", twelve),
                         (Code.GET, "aiocoap-update", b""))
        self.assertEqual(r[0].code, Code.CHANGED)
        self.same(r[1].payload, twelve, "12 KB: GET after PUT differs")
        self.same(self.stored("aiocoap-update"), twelve, "value stored on the module")

    # ---- the ETSI CoAP#4 plugtest scenarios ----

    def test_TD_COAP_BLOCK_01(self):
        """TD_COAP_BLOCK_01, "Handle GET blockwise transfer for large resource
        (early negotiation)" (ETSI CoAP#4 plugtest test descriptions, as kept
        in F-Interop's ttproto, tat_coap testcases): the client's first GET
        carries Block2 NUM=0, M=0, SZX = the desired size; the server answers
        2.05 with Block2 NUM=0, M=1, SZX <= the desired one and 2**(SZX+4)
        bytes; the client asks NUM=i, M=0 with that SZX and each answer is
        2.05 with Block2 NUM=i, the same SZX, M=1 and a full block, until the
        last: M=0 and 1..2**(SZX+4) bytes. This server keeps the SZX asked."""
        szx = 3  # 128 bytes
        got, responses = self.get_blocks("large", szx, expect_len=LARGE)
        self.assertEqual(s.block_of(responses[0], s.BLOCK2), (0, 1, szx))
        self.same(got, s.pattern(LARGE), "reassembled Block2 GET")

    def test_TD_COAP_BLOCK_02(self):
        """TD_COAP_BLOCK_02, "Handle GET blockwise transfer for large resource
        (late negotiation)" (ETSI CoAP#4 plugtest test descriptions, F-Interop
        ttproto): a GET without Block2 gets 2.05 with Block2 NUM=0, M=1, the
        server's SZX and 2**(SZX+4) bytes; the client switches to a smaller
        SZX and asks the next block at that size (NUM = 2**(SZX_server -
        SZX_client)); each answer has Block2 with that NUM and SZX, M=1 and a
        full block, the last M=0 and 1..2**(SZX+4) bytes."""
        r = self.raw.req(s.GET, "large")
        self.assertEqual(r["code"], s.C205, r)
        num, more, server_szx = s.block_of(r, s.BLOCK2)
        self.assertEqual((num, more, server_szx), (0, 1, 6), "1024-byte blocks by default")
        self.assertEqual(len(r["payload"]), 1 << (server_szx + 4))
        self.assertIsNotNone(s.option(r, s.ETAG_OPT), "no ETag in the first block")
        first = r["payload"]
        client_szx = 2  # 64 bytes
        rest, responses = self.get_blocks("large", client_szx, first=1 << (server_szx - client_szx))
        self.assertEqual(s.option(responses[0], s.ETAG_OPT), s.option(r, s.ETAG_OPT))
        self.same(first + rest, s.pattern(LARGE), "reassembled Block2 GET")

    def test_TD_COAP_BLOCK_03(self):
        """TD_COAP_BLOCK_03, "Handle PUT blockwise transfer for large
        resource" (ETSI CoAP#4 plugtest test descriptions, F-Interop ttproto;
        the resource /large-update): the client PUTs Block1 NUM=0, M=1, its
        SZX and 2**(SZX+4) bytes; the server answers 2.31 (atomic) with
        Block1 NUM=0, M=1, SZX <= the client's; each further block NUM=i, M=1
        gets 2.31 with Block1 NUM=i, M=1, that SZX; the last block (M=0,
        1..2**(SZX+4) bytes) gets 2.04 with Block1 NUM=n, M=0, that SZX; the
        server then holds the complete updated resource."""
        payload = s.pattern(LARGE, 3)
        before = self.etag("large-update")
        r = self.put_blocks("large-update", payload, 2)
        self.assertEqual(int.from_bytes(s.option(r, s.ETAG_OPT) or b"", "big"), before + 1,
                         "2.04 carries the new ETag: %r" % r)
        self.same(self.stored("large-update"), payload, "value stored on the module")
        got, _ = self.get_blocks("large-update", 6)
        self.same(got, payload, "reassembled Block2 GET")

    def test_TD_COAP_BLOCK_06(self):
        """TD_COAP_BLOCK_06, "Handle GET blockwise transfer for large resource
        (early negotiation, 16 byte block size)" (ETSI CoAP#4 plugtest test
        descriptions, F-Interop ttproto): as TD_COAP_BLOCK_01 with SZX 0: the
        first GET carries Block2 NUM=0, M=0, SZX=0; every answer is 2.05 with
        Block2 NUM=i, SZX <= 0, M=1 and 16 bytes, the last M=0 and 1..16
        bytes."""
        got, responses = self.get_blocks("large", 0, expect_len=LARGE)
        self.assertEqual(len(responses), (LARGE + 15) // 16)
        self.same(got, s.pattern(LARGE), "reassembled Block2 GET")

    # ---- Block2 details ----

    def test_block2_honoured_when_the_value_fits_one_message(self):
        got, responses = self.get_blocks("small", 0, expect_len=SMALL)
        self.assertEqual(len(responses), (SMALL + 15) // 16)
        self.same(got, s.pattern(SMALL), "reassembled Block2 GET")

    def test_block2_full_last_block_and_past_the_end(self):
        for szx in (0, 6):
            size = 1 << (szx + 4)
            got, responses = self.get_blocks("exact", szx, expect_len=EXACT)
            self.same(got, s.pattern(EXACT), "reassembled Block2 GET")
            self.assertEqual(len(responses[-1]["payload"]), size)
            r = self.raw.req(s.GET, "exact", [(s.BLOCK2, s.block(EXACT // size, 0, szx))])
            self.assertEqual(cname(r["code"]), "4.02", "block past the end, SZX %d: %r" % (szx, r))
        r = self.raw.req(s.GET, "large", [(s.BLOCK2, s.block((LARGE + KB - 1) // KB, 0, 6))])
        self.assertEqual(cname(r["code"]), "4.02", r)

    def test_size2_when_asked(self):
        r = self.raw.req(s.GET, "large", [(s.BLOCK2, s.block(0, 0, 6)), (s.SIZE2, 0)])
        self.assertEqual(r["code"], s.C205, r)
        self.assertEqual(s.block_of(r, s.BLOCK2), (0, 1, 6))
        size2 = s.option(r, s.SIZE2)
        self.assertIsNotNone(size2, "no Size2 though the request asked: %r" % r)
        self.assertEqual(int.from_bytes(size2, "big"), LARGE)
        r = self.raw.req(s.GET, "large", [(s.SIZE2, 0)])  # late negotiation asks too
        self.assertEqual(int.from_bytes(s.option(r, s.SIZE2) or b"", "big"), LARGE, r)

    def test_etag_in_every_block_and_changed_with_the_value(self):
        # etag=True: the resource's counter, 1 for the value add_resource stored
        _, responses = self.get_blocks("large-etag", 6, expect_len=LARGE)
        self.assertEqual(s.option(responses[0], s.ETAG_OPT), b"\x01")
        # etag=False: an internal version, changed by the application's
        # value(); etag=True: the resource's counter, changed by a PUT
        for uri, change in (("changing", "app"), ("changing-etag", "app"), ("changing-etag", "put")):
            before, responses = self.get_blocks(uri, 6)
            etag0 = s.option(responses[0], s.ETAG_OPT)
            r = self.raw.req(s.GET, uri, [(s.BLOCK2, s.block(0, 0, 6))])
            self.assertEqual(s.option(r, s.ETAG_OPT), etag0, "%s: same value, same ETag" % uri)
            if change == "app":
                self.ctl("bump " + uri, "BUMPED " + uri)
                want = self.stored(uri)
            else:
                want = s.pattern(EXACT, 9)
                self.put_blocks(uri, want, 6)
            self.assertNotEqual(want, before)
            r = self.raw.req(s.GET, uri, [(s.BLOCK2, s.block(1, 0, 6))])
            self.assertEqual(r["code"], s.C205, r)
            self.assertNotEqual(s.option(r, s.ETAG_OPT), etag0,
                                "%s (%s): block 1 of the new value has the old ETag" % (uri, change))
            got, _ = self.get_blocks(uri, 6)
            self.same(got, want, uri)

    def test_block2_duplicate_con_answered_the_same(self):
        for num in (0, 3):
            d = self.raw.datagram(s.GET, "large", [(s.BLOCK2, s.block(num, 0, 4))], token=b"g%d" % num)
            first, raw1 = self.raw.send(d)
            self.assertEqual(first["code"], s.C205, first)
            self.assertEqual(s.block_of(first, s.BLOCK2), (num, 1, 4))
            _, raw2 = self.raw.send(d)
            self.same_answer(raw2, raw1, "Block2 %d" % num)

    # ---- Block1 details ----

    def test_block1_out_of_order_gets_4_08(self):
        uri = "raw-update"
        old = self.stored(uri)
        # NUM > 0 with no transfer started
        r = self.raw.req(s.PUT, uri, [(s.BLOCK1, s.block(1, 1, 2))], b"y" * 64)
        self.assertEqual(cname(r["code"]), "4.08", r)
        # block 0, then block 2
        r = self.raw.req(s.PUT, uri, [(s.BLOCK1, s.block(0, 1, 2))], b"a" * 64)
        self.assertEqual(cname(r["code"]), "2.31", r)
        r = self.raw.req(s.PUT, uri, [(s.BLOCK1, s.block(2, 0, 2))], b"c" * 64)
        self.assertEqual(cname(r["code"]), "4.08", r)
        self.assertEqual(self.stored(uri), old, "nothing stored")
        # a transfer started again at block 0 completes
        payload = s.pattern(3 * 64 + 5, 4)
        self.put_blocks(uri, payload, 2)
        self.same(self.stored(uri), payload, "value stored on the module")

    def test_block1_over_value_max_gets_4_13_with_size1(self):
        uri = "limit-update"
        old = self.stored(uri)
        szx, size = 6, KB
        num = 0
        while True:
            r = self.raw.req(s.PUT, uri, [(s.BLOCK1, s.block(num, 1, szx))], s.pattern(size, num))
            if r["code"] != s.C231:
                break
            num += 1
            self.assertLessEqual(num * size, self.value_max + size, "more than VALUE_MAX accepted")
        self.assertEqual(cname(r["code"]), "4.13", r)
        # rejected at the block that makes VALUE_MAX certain to be exceeded
        # (M=1 ending at VALUE_MAX) or at the one that exceeds it
        self.assertIn(num, (self.value_max // size - 1, self.value_max // size), r)
        size1 = s.option(r, s.SIZE1)
        self.assertIsNotNone(size1, "4.13 without Size1: %r" % r)
        self.assertEqual(int.from_bytes(size1, "big"), self.value_max)
        self.assertEqual(self.stored(uri), old, "nothing stored")
        # exactly VALUE_MAX bytes: accepted, stored whole
        payload = s.pattern(self.value_max, 6)
        self.put_blocks(uri, payload, szx)
        self.same(self.stored(uri), payload, "value stored on the module")
        got, _ = self.get_blocks(uri, szx, expect_len=self.value_max)
        self.same(got, payload, "reassembled Block2 GET")

    def test_block1_value_max_with_another_transfer_in_progress(self):
        """VALUE_MAX bounds one value: another peer's transfer in progress
        (to another resource; the remote budget has room for both) does not
        lower it."""
        side = Raw(self.port)
        self.addCleanup(side.close)
        for szx in (6, 2):
            r = side.req(s.PUT, "side-update", [(s.BLOCK1, s.block(0, 1, szx))], s.pattern(16 << szx, 1))
            self.assertEqual(cname(r["code"]), "2.31", r)
            payload = s.pattern(self.value_max, szx)
            try:
                self.put_blocks("full-update", payload, 6)
            finally:
                r = side.req(s.PUT, "side-update", [(s.BLOCK1, s.block(1, 0, szx))], b"end")
                self.assertEqual(cname(r["code"]), "2.04", r)
            self.same(self.stored("full-update"), payload, "value stored on the module")
            self.same(self.stored("side-update"), s.pattern(16 << szx, 1) + b"end", "the other transfer's value")

    def test_block1_duplicate_con_answered_again_applied_once(self):
        uri = "dup-update"
        payload = s.pattern(KB + 300, 2)
        before = self.etag(uri)
        d0 = self.raw.datagram(s.PUT, uri, [(s.BLOCK1, s.block(0, 1, 6))], payload[:KB], token=b"d0")
        a0, bytes0 = self.raw.send(d0)
        self.assertEqual(cname(a0["code"]), "2.31", a0)
        self.assertEqual(s.block_of(a0, s.BLOCK1), (0, 1, 6))
        again, bytes0_again = self.raw.send(d0)
        self.same_answer(bytes0_again, bytes0, "Block1 0, M=1")
        d1 = self.raw.datagram(s.PUT, uri, [(s.BLOCK1, s.block(1, 0, 6))], payload[KB:], token=b"d1")
        a1, bytes1 = self.raw.send(d1)
        self.assertEqual(cname(a1["code"]), "2.04", a1)
        self.assertEqual(s.block_of(a1, s.BLOCK1), (1, 0, 6))
        again, bytes1_again = self.raw.send(d1)
        self.same_answer(bytes1_again, bytes1, "Block1 1, M=0 (the last)")
        # and a late duplicate of block 0 changes nothing either
        again, bytes0_late = self.raw.send(d0)
        self.same_answer(bytes0_late, bytes0, "Block1 0 again after the last")
        self.same(self.stored(uri), payload, "value stored on the module")
        self.assertEqual(self.etag(uri) - before, 1, "applied exactly once")

    def test_block1_post(self):
        uri = "post-update"
        payload = s.pattern(3 * KB + 1, 11)
        before = self.etag(uri)
        self.put_blocks(uri, payload, 5, mcode=s.POST)
        self.same(self.stored(uri), payload, "value stored on the module")
        self.assertEqual(self.etag(uri) - before, 1)

    def test_block1_two_clients_write_one_resource(self):
        """Two transfers to one resource, their blocks interleaved: each is
        reassembled apart from the other, each stored whole when its last
        block arrives (the later one wins), never a mix."""
        uri = "shared-update"
        other = Raw(self.port)
        self.addCleanup(other.close)
        a, b = s.pattern(4 * KB, 12), s.pattern(3 * KB, 13)
        szx, size = 6, KB
        before = self.etag(uri)
        for num in range(4):
            for peer, data in ((self.raw, a), (other, b)):
                n = len(data) // size
                if num >= n:
                    continue
                more = num < n - 1
                r = peer.req(s.PUT, uri, [(s.BLOCK1, s.block(num, more, szx))], data[num * size:(num + 1) * size])
                self.assertEqual(cname(r["code"]), "2.31" if more else "2.04", (peer is other, num, r))
                if not more:
                    self.same(self.stored(uri), data, "value after the transfer of %s ended"
                              % ("the second client" if peer is other else "the first client"))
        self.same(self.stored(uri), a, "value after both transfers")
        self.assertEqual(self.etag(uri) - before, 2, "each transfer applied once")

    def test_block1_applied_atomically_at_the_last_block(self):
        """A reader GETting blocks while a Block1 transfer to the same
        resource is in progress sees the old value (and ETag) throughout;
        at the last block the new value appears whole, with a new ETag. A
        block sent again (a new message: the client's own retry) is taken
        once."""
        writer = Raw(self.port)
        self.addCleanup(writer.close)
        uri, new = "atomic", s.pattern(2 * KB + 10, 14)
        r0 = self.raw.req(s.GET, uri, [(s.BLOCK2, s.block(0, 0, 6))])
        for num in (0, 1, 1):
            r = writer.req(s.PUT, uri, [(s.BLOCK1, s.block(num, 1, 6))], new[num * KB:(num + 1) * KB])
            self.assertEqual(cname(r["code"]), "2.31", (num, r))
            r1 = self.raw.req(s.GET, uri, [(s.BLOCK2, s.block(num + 1, 0, 6))])
            self.assertEqual(s.option(r1, s.ETAG_OPT), s.option(r0, s.ETAG_OPT), "ETag changed before the last block")
            self.assertEqual(r1["payload"], s.pattern(EXACT)[(num + 1) * KB:(num + 2) * KB])
        r = writer.req(s.PUT, uri, [(s.BLOCK1, s.block(2, 0, 6))], new[2 * KB:])
        self.assertEqual(cname(r["code"]), "2.04", r)
        got, responses = self.get_blocks(uri, 6, expect_len=len(new))
        self.same(got, new, "value after the last block")
        self.assertNotEqual(s.option(responses[0], s.ETAG_OPT), s.option(r0, s.ETAG_OPT))

    def test_block1_bad_blocks_get_4_00(self):
        """RFC 7959 2.2: SZX 7 is reserved (4.00 Bad Request); a block with
        M=1 carries exactly 2**(SZX+4) bytes. Nothing is stored."""
        uri = "raw-update"
        old = self.stored(uri)
        r = self.raw.req(s.PUT, uri, [(s.BLOCK1, s.block(0, 1, 7))], b"x" * KB)
        self.assertEqual(cname(r["code"]), "4.00", r)
        r = self.raw.req(s.GET, "large", [(s.BLOCK2, s.block(0, 0, 7))])
        self.assertEqual(cname(r["code"]), "4.00", r)
        for n in (10, 100):
            r = self.raw.req(s.PUT, uri, [(s.BLOCK1, s.block(0, 1, 2))], b"x" * n)
            self.assertEqual(cname(r["code"]), "4.00", (n, r))
            r = self.raw.req(s.PUT, uri, [(s.BLOCK1, s.block(1, 0, 2))], b"y")
            self.assertEqual(cname(r["code"]), "4.08", (n, r))
        self.assertEqual(self.stored(uri), old, "nothing stored")

    def test_block1_request_checks(self):
        """The checks of a whole PUT apply to a Block1 one, carried by every
        block as clients do: an If-Match that does not match and an
        If-None-Match on an existing resource get 4.12, a Content-Format
        other than the resource's 4.15, a method not enabled 4.05, an
        unknown path 4.04; nothing is stored."""
        old = self.stored("post-update")
        for opts, code in (([(1, b"\x99\x99")], "4.12"), ([(5, b"")], "4.12")):
            got = []
            for num, more in ((0, 1), (1, 0)):
                r = self.raw.req(s.PUT, "post-update", [(s.BLOCK1, s.block(num, more, 2))] + opts,
                                 b"x" * 64 if more else b"y")
                got.append(cname(r["code"]))
                if got[-1] != "2.31":
                    break
            self.assertEqual(got[-1], code, (opts, got))
            self.assertEqual(self.stored("post-update"), old, "nothing stored")
        r = self.raw.req(s.PUT, "typed", [(s.BLOCK1, s.block(0, 1, 2)), (s.CONTENT_FORMAT, 0)], b"x" * 64)
        self.assertEqual(cname(r["code"]), "4.15", r)
        r = self.raw.req(s.PUT, "r0", [(s.BLOCK1, s.block(0, 1, 2))], b"x" * 64)
        self.assertEqual(cname(r["code"]), "4.05", r)
        r = self.raw.req(s.PUT, "nothing", [(s.BLOCK1, s.block(0, 1, 2))], b"x" * 64)
        self.assertEqual(cname(r["code"]), "4.04", r)

    def test_block2_non_request(self):
        d = s.build(s.NON, s.GET, self.raw.next_mid(), b"n", s.path_options("large") + [(s.BLOCK2, s.block(2, 0, 4))])
        self.raw.sock.sendto(d, self.raw.server)
        r = s.parse(self.raw.sock.recv(4096))
        self.assertEqual((r["type"], r["code"], r["token"]), (s.NON, s.C205, b"n"), r)
        self.assertEqual(s.block_of(r, s.BLOCK2), (2, 1, 4))
        self.assertEqual(r["payload"], s.pattern(LARGE)[2 * 256:3 * 256])

    # ---- /.well-known/core with many resources ----

    def test_well_known_core_block_wise(self):
        want = links(MANY)
        self.assertGreater(len(want), 2 * KB)
        for extra in ([], ["-b", "64"]):
            rc, got, text = self.coap_client(".well-known/core", extra=extra)
            self.assertEqual(rc, 0, text)
            self.assertEqual(got, want, "coap-client %s" % extra)
        got, responses = self.get_blocks(".well-known/core", 6, first_block2=False)
        self.assertEqual(got, want)
        self.assertEqual(s.option(responses[0], s.CONTENT_FORMAT), b"\x28")
        if aiocoap is not None:
            r = self.aiocoap((Code.GET, ".well-known/core", b""))
            self.assertEqual(r[0].code, Code.CONTENT)
            self.assertEqual(r[0].payload, want, "aiocoap")

    def test_well_known_core_etag_changes_with_the_document(self):
        r0 = self.raw.req(s.GET, ".well-known/core", [(s.BLOCK2, s.block(0, 0, 6))])
        self.assertEqual(r0["code"], s.C205, r0)
        etag0 = s.option(r0, s.ETAG_OPT)
        self.assertIsNotNone(etag0, "no ETag in a Block2 response: %r" % r0)
        self.ctl("add extra", "ADDED extra")
        try:
            r1 = self.raw.req(s.GET, ".well-known/core", [(s.BLOCK2, s.block(1, 0, 6))])
            self.assertEqual(r1["code"], s.C205, r1)
            self.assertNotEqual(s.option(r1, s.ETAG_OPT), etag0, "block 1 of a changed document, same ETag")
        finally:
            self.ctl("remove extra", "REMOVED extra")


BUDGET_SCRIPT = s.PATTERN_SRC + "LARGE = %d\n" % LARGE + r'''
import sys
import coap

coap.init("127.0.0.1", port=int(sys.argv[1]))   # the default remote budget
for uri, n in (("small", 0), ("big", LARGE)):
    r = coap.add_resource(uri, value=pattern(n), etag=True)
    r.callback(coap.REQUEST_GET | coap.REQUEST_PUT, True)
for i in range(int(sys.argv[2])):
    r = coap.add_resource("t%d" % i, value=b"")
    r.callback(coap.REQUEST_GET | coap.REQUEST_PUT, True)
r = None
print("READY", coap.VALUE_MAX, coap.REMOTE_BUDGET)
while True:
    coap.read(0)
'''


def transfers_max():
    """TRANSFERS_MAX of src/capacity.rs: Block1 transfers held at once."""
    with open(os.path.join(s.ROOT, "src", "capacity.rs")) as f:
        m = re.search(r"pub const TRANSFERS_MAX: usize = (\d+);", f.read())
    assert m, "no TRANSFERS_MAX in src/capacity.rs"
    return int(m.group(1))


class DefaultBudget(s.MPTestCase):
    """A server with init()'s default remote budget (Coap.REMOTE_BUDGET), a
    resource whose application value is empty, one whose value is LARGE,
    and TRANSFERS_MAX + 1 empty ones."""

    def setUp(self):
        self.port = s.free_port()
        script = s.write_script(self, BUDGET_SCRIPT)
        self.n = transfers_max()
        self.srv = s.start_mp(self, script, [self.port, self.n + 1])
        line = self.srv.expect("READY", 15)
        self.value_max, self.budget = int(line.split()[1]), int(line.split()[2])
        self.raw = Raw(self.port)
        self.addCleanup(self.raw.close)

    def get(self, uri):
        out, num = b"", 0
        while True:
            r = self.raw.req(s.GET, uri, [(s.BLOCK2, s.block(num, 0, 6))])
            self.assertEqual(r["code"], s.C205, r)
            out += r["payload"]
            if not s.block_of(r, s.BLOCK2)[1]:
                return out, int.from_bytes(s.option(r, s.ETAG_OPT), "big")
            num += 1

    def test_block1_over_the_remote_budget_gets_4_13_with_size1(self):
        self.assertGreater(LARGE, self.budget, "the test needs a PUT larger than the default budget")
        self.assertLess(LARGE, self.value_max)
        payload = s.pattern(LARGE, 1)
        # announced by Size1 in the first block (RFC 7959 4): refused at once
        r = self.raw.req(s.PUT, "small", [(s.BLOCK1, s.block(0, 1, 6)), (s.SIZE1, LARGE)], payload[:KB])
        self.assertEqual(cname(r["code"]), "4.13", r)
        size1 = int.from_bytes(s.option(r, s.SIZE1) or b"", "big")
        self.assertTrue(0 < size1 <= self.budget, "Size1 %d, budget %d" % (size1, self.budget))
        # not announced: refused at the block that passes the budget
        num = 0
        while True:
            r = self.raw.req(s.PUT, "small", [(s.BLOCK1, s.block(num, 1, 6))], payload[num * KB:(num + 1) * KB])
            if r["code"] != s.C231:
                break
            num += 1
            self.assertLessEqual(num * KB, self.budget, "more than the remote budget accepted")
        self.assertEqual(cname(r["code"]), "4.13", r)
        size1 = int.from_bytes(s.option(r, s.SIZE1) or b"", "big")
        self.assertTrue(0 < size1 <= self.budget and (num + 1) * KB > size1, (num, size1, self.budget))
        self.assertEqual(self.get("small"), (b"", 1), "nothing stored")
        # the application's own value of that size is not counted: fits
        r = self.raw.req(s.PUT, "big", [(s.BLOCK1, s.block(0, 1, 6)), (s.SIZE1, LARGE)], payload[:KB])
        self.assertEqual(cname(r["code"]), "2.31", r)
        for num in range(1, (LARGE + KB - 1) // KB):
            more = (num + 1) * KB < LARGE
            r = self.raw.req(s.PUT, "big", [(s.BLOCK1, s.block(num, more, 6))], payload[num * KB:(num + 1) * KB])
            self.assertEqual(cname(r["code"]), "2.31" if more else "2.04", (num, r))
        self.assertEqual(self.get("big"), (payload, 2))

    def test_transfers_in_progress_are_bounded(self):
        peers = [Raw(self.port) for _ in range(self.n + 1)]
        for p in peers:
            self.addCleanup(p.close)
        for i, p in enumerate(peers[:-1]):
            r = p.req(s.PUT, "t%d" % i, [(s.BLOCK1, s.block(0, 1, 2))], s.pattern(64, i))
            self.assertEqual(cname(r["code"]), "2.31", (i, r))
        extra = "t%d" % self.n
        r = peers[-1].req(s.PUT, extra, [(s.BLOCK1, s.block(0, 1, 2))], s.pattern(64, self.n))
        self.assertEqual(cname(r["code"]), "5.03", "transfer %d of at most %d: %r" % (self.n + 1, self.n, r))
        self.assertIsNotNone(s.option(r, s.MAX_AGE), "5.03 without Max-Age: %r" % r)
        # the transfers in progress are unharmed; once one ends, a new one starts
        for i, p in enumerate(peers[:-1]):
            r = p.req(s.PUT, "t%d" % i, [(s.BLOCK1, s.block(1, 0, 2))], b"end")
            self.assertEqual(cname(r["code"]), "2.04", (i, r))
            self.assertEqual(self.get("t%d" % i)[0], s.pattern(64, i) + b"end")
        r = peers[-1].req(s.PUT, extra, [(s.BLOCK1, s.block(0, 1, 2))], s.pattern(64, self.n))
        self.assertEqual(cname(r["code"]), "2.31", r)
        r = peers[-1].req(s.PUT, extra, [(s.BLOCK1, s.block(1, 0, 2))], b"end")
        self.assertEqual(cname(r["code"]), "2.04", r)


# ---------------------------------------------------------------------------
# The module's CLIENT, block-wise (tests/interop/mp_client.py): a 10 KB GET
# fetched with Block2 and a 10 KB PUT sent with Block1, byte-exact, against
# aiocoap's server (tests/interop/aiocoap_server.py, /store) and libcoap's
# coap-server-notls (a dynamic resource, -d).

CLIENT_SIZE = 10 * KB + 100   # a short last block both ways
GET_, PUT_ = 1, 2


def _client():
    import sys as sys_
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys_.path:
        sys_.path.insert(0, here)
    import test_client_interop as ci  # its run_client drives mp_client.py
    return ci


class ClientBlockwiseAiocoap(s.MPTestCase):
    def setUp(self):
        if aiocoap is None:
            self.skipTest("aiocoap not installed")
        import sys as sys_
        self.port = s.free_port()
        self.srv = s.Proc([sys_.executable, os.path.join(s.INTEROP, "aiocoap_server.py"), str(self.port)])
        self.addCleanup(self.srv.stop)
        if self.srv.wait_line("READY", 15) is None:
            self.fail("aiocoap server did not start:\n" + self.srv.output())

    def test_get_and_put_10kb(self):
        ci = _client()
        init = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(10 * KB))  # aiocoap_server.STORE_INIT
        new = s.pattern(CLIENT_SIZE, 3)
        _, resps, out, _ = ci.run_client(self, self.port, [
            {"method": GET_, "uri_path": "store", "token": "g1"},
            {"method": PUT_, "uri_path": "store", "payload_hex": new.hex(), "token": "p1"},
            {"method": GET_, "uri_path": "store", "token": "g2"},
            {"method": GET_, "uri_path": "store-puts", "token": "n"},
        ], wait_ms=20000)
        self.assertEqual(len(resps), 4, out[-2000:])
        by = {r.token: r for r in resps}
        self.assertEqual(by[b"g1"].code, 69)
        self.assertTrue(by[b"g1"].payload == init, "GET: %d bytes, differ" % len(by[b"g1"].payload))
        self.assertEqual(by[b"p1"].code, 68)
        self.assertEqual(by[b"g2"].code, 69)
        self.assertTrue(by[b"g2"].payload == new, "PUT then GET: %d bytes, differ" % len(by[b"g2"].payload))
        self.assertEqual(by[b"n"].payload, b"1", "the PUT was applied once")


class ClientBlockwiseLibcoap(s.MPTestCase):
    def setUp(self):
        s.need_tool(self, "coap-server-notls")
        self.port = s.free_port()
        # -d: PUT to an unknown path creates a resource; libcoap (-L 1, its
        # default) reassembles Block1 and serves large bodies with Block2.
        self.srv = s.Proc(["coap-server-notls", "-A", "127.0.0.1", "-p", str(self.port), "-d", "4", "-v", "8"])
        self.addCleanup(self.srv.stop)
        time.sleep(0.3)

    def test_put_then_get_10kb(self):
        ci = _client()
        new = s.pattern(CLIENT_SIZE, 5)
        _, resps, out, _ = ci.run_client(self, self.port, [
            {"method": PUT_, "uri_path": "dyn/big", "payload_hex": new.hex(), "token": "p1"},
            {"method": GET_, "uri_path": "dyn/big", "token": "g1"},
        ], wait_ms=20000)
        self.assertEqual(len(resps), 2, out[-2000:])
        by = {r.token: r for r in resps}
        self.assertIn(by[b"p1"].code, (65, 68))   # 2.01 Created (or 2.04)
        self.assertEqual(by[b"g1"].code, 69)
        self.assertTrue(by[b"g1"].payload == new, "GET: %d bytes, differ" % len(by[b"g1"].payload))
        # both ways block by block: at least one datagram per 1 KiB block each
        time.sleep(0.2)
        received = [p for p in s.parse_pdus("\n".join(self.srv.lines)) if p.direction == "received"]
        self.assertGreaterEqual(len(received), 2 * (CLIENT_SIZE // KB + 1))


if __name__ == "__main__":
    unittest.main()
