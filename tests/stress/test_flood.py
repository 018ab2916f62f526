"""Malformed flood: STRESS_FLOOD_COUNT (default 100,000) seeded datagrams against the
module's server on the unix build: random bytes and mutations of valid requests
(bit flips, truncation, bad option deltas/lengths, TKL 9-15, wrong version,
reserved classes, bad Empty messages, oversize). Every 50 datagrams a normal GET
must be answered correctly. Afterwards the server has handled every datagram
sent, still answers a GET correctly, and its gc.mem_free() after gc.collect() is
back to the starting level within MEM_TOLERANCE bytes.

Tolerance: the module allocates nothing per datagram that it keeps, so the
level should come back exactly; the allowance of 4 GC blocks covers objects a
conservative collector may still see through a stale word on the C stack.
"""

import os
import random
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cpython"))
import support as S  # noqa: E402  (tests/cpython/support.py)

COUNT = int(os.environ.get("STRESS_FLOOD_COUNT", "100000"))
SEED = int(os.environ.get("STRESS_SEED", "7252"))
BATCH = 50
MEM_TOLERANCE = 4 * 32  # 4 GC blocks of the 64-bit unix port
PAYLOAD = open(os.path.join(S.BENCH, "payload.txt"), "rb").read()
PROTECTED = {("bench",), ("ctl",)}  # the checks need these untouched


def templates(rng):
    """Valid requests to mutate."""
    tok = bytes(rng.randrange(256) for _ in range(rng.randrange(9)))
    mid = rng.randrange(0x10000)
    t = rng.choice([S.CON, S.NON])
    return rng.choice([
        lambda: S.build(t, S.GET, mid, tok, S.path_options("bench")),
        lambda: S.build(t, S.GET, mid, tok, S.path_options(".well-known/core") + [(15, "rt=x*")]),
        lambda: S.build(t, S.PUT, mid, tok, S.path_options("etag") + [(12, 0), (1, b"\x01")], b"v"),
        lambda: S.build(t, S.POST, mid, tok, S.path_options("etag") + [(60, 3)], b"abc"),
        lambda: S.build(t, S.GET, mid, tok, S.path_options("etag") + [(17, 50), (4, b"\x00\x01"), (23, 2)]),
        lambda: S.build(t, S.DELETE, mid, tok, S.path_options("missing/a/b")),
        lambda: S.build(t, S.GET, mid, tok, S.path_options("bench") + [(35, "coap://x"), (99, b"zz")]),
        lambda: S.build(t, S.GET, mid, tok, [(6, 0), (11, "etag"), (2053, b"q" * 300)]),
    ])()


def mutate(rng):
    kind = rng.randrange(10)
    if kind == 0:  # random bytes
        return rng.randbytes(rng.randrange(0, 80)), "random"
    if kind == 1:  # random bytes behind a valid CoAP v1 header
        return bytes([0x40 | rng.randrange(64)]) + rng.randbytes(rng.randrange(3, 60)), "random-v1"
    d = bytearray(templates(rng))
    if kind == 2:  # bit flips
        for _ in range(rng.randrange(1, 5)):
            i = rng.randrange(len(d) * 8)
            d[i // 8] ^= 1 << (i % 8)
        return bytes(d), "bitflip"
    if kind == 3:  # truncation
        return bytes(d[:rng.randrange(len(d))]), "truncate"
    if kind == 4:  # TKL 9-15
        d[0] = d[0] & 0xF0 | rng.randrange(9, 16)
        return bytes(d), "tkl"
    if kind == 5:  # bad option delta/length nibbles or a number past 65535
        tkl = d[0] & 15
        bad = rng.choice([bytes([0xF0 | rng.randrange(15)]), bytes([rng.randrange(15) << 4 | 0x0F]),
                          b"\xe0\xff\xff", b"\xe1\xff\xf0x", b"\xd0", b"\xe0\x01", b"\x1f", b"\xd1\x05"])
        at = 4 + tkl
        return bytes(d[:at]) + bad + bytes(d[at:]), "option"
    if kind == 6:  # oversize: bigger than any message the module accepts
        n = rng.choice([1153, 1200, 1500, 2048, 4000, 9000])
        return bytes(d) + b"\xff" + rng.randbytes(8) * (n // 8), "oversize"
    if kind == 7:  # version 0/2/3
        d[0] = d[0] & 0x3F | rng.choice([0x00, 0x80, 0xC0])
        return bytes(d), "version"
    if kind == 8:  # reserved class, or bad Empty messages
        c = rng.randrange(3)
        if c == 0:
            d[1] = rng.choice([1, 6, 7]) << 5 | rng.randrange(32)
            return bytes(d), "class"
        if c == 1:
            return bytes([0x40 | rng.randrange(1, 9), 0, 1, 2]) + b"tokentok"[:rng.randrange(1, 9)], "empty-token"
        return bytes([0x40 | rng.randrange(4) << 4, 0, 1, 2]) + b"\xff\x01", "empty-trailing"
    # payload marker without payload, unmatched ACK/RST, pings
    c = rng.randrange(3)
    if c == 0:
        return bytes(d) + b"\xff", "empty-payload"
    if c == 1:
        return bytes([0x60 | rng.choice([0, 0x10]), rng.choice([0, 0x45]), rng.randrange(256), rng.randrange(256)]), "ack-rst"
    return bytes([0x40, 0, rng.randrange(256), rng.randrange(256)]), "ping"


def harmless(datagram):
    """False for a datagram that parses as a request that would change /bench or /ctl."""
    m = S.parse(datagram)
    if not m or m["code"] in (0, S.GET) or m["code"] >> 5 != 0:
        return True
    path = tuple(v.decode(errors="replace") for n, v in m["options"] if n == S.URI_PATH)
    return path not in PROTECTED


class MalformedFlood(unittest.TestCase):
    def setUp(self):
        self.port = S.free_port()
        self.server = S.mp_server(self.port)
        self.addCleanup(self.server.stop)
        self.client = S.Client((S.HOST, self.port), seed=SEED)
        self.addCleanup(self.client.close)

    def check_get(self):
        m = self.client.request(S.GET, "bench")
        self.assertEqual((m["type"], m["code"], m["payload"]), (S.ACK, S.C205, PAYLOAD), m)

    def report(self):
        self.client.control(b"report")
        _, handled, free, alloc = self.server.expect("REPORT", 10).split()
        return int(handled), int(free), int(alloc)

    def test_flood(self):
        rng = random.Random(SEED)
        # Warm up so that everything the server creates lazily exists.
        for _ in range(200):
            self.check_get()
        handled0, free0, alloc0 = self.report()
        client0 = self.client.datagrams
        flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(flood.close)
        flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        flood.bind((S.HOST, 0))
        flood.setblocking(False)
        kinds = {}
        sent = probes = 0
        t0 = time.monotonic()
        while sent < COUNT:
            for _ in range(min(BATCH, COUNT - sent)):
                d, kind = mutate(rng)
                while not harmless(d):
                    d, kind = mutate(rng)
                flood.sendto(d, (S.HOST, self.port))
                kinds[kind] = kinds.get(kind, 0) + 1
                sent += 1
            try:  # drop whatever the server answered
                while True:
                    flood.recv(65536)
            except BlockingIOError:
                pass
            self.check_get()  # also paces the flood to the server's speed
            probes += 1
        secs = time.monotonic() - t0
        self.check_get()
        handled1, free1, alloc1 = self.report()
        print("\nflood: %d datagrams (%s) + %d probes in %.1f s; mem_free %d -> %d (%+d), mem_alloc %d -> %d"
              % (sent, ", ".join("%s %d" % kv for kv in sorted(kinds.items())), probes, secs,
                 free0, free1, free1 - free0, alloc0, alloc1), file=sys.stderr)
        # Every datagram reached the server and was handled (the probes pace the
        # flood, so the socket buffer never overflows): the flood and what the
        # checking client sent (probes, the final GET, the second report PUT,
        # any retransmission). Oversize datagrams count too: the engine sees
        # their first bytes (a request among them gets 4.13).
        self.assertEqual(handled1 - handled0, sent + self.client.datagrams - client0)
        self.assertGreaterEqual(self.client.datagrams - client0, probes + 2)
        self.assertLessEqual(abs(free1 - free0), MEM_TOLERANCE)
        self.assertTrue(self.server.alive())


if __name__ == "__main__":
    unittest.main()
