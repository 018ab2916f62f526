"""The deduplication cache over real sockets (issue 10): NON traffic from
another peer must not evict the entry of a CON exchange still within its
lifetime. Peer A sends a conditional CON PUT (If-Match) to an ETag resource of
the module's server (tests/interop/mp_server.py) and its ACK is "lost"; peer B,
from another source port, sends NON GETs, more than the whole cache holds; A
then retransmits the same datagram (same Message ID and token). It must get
the same 2.04 with the same ETag, and the resource must show the PUT was
applied once (the ETag advanced by one, not by two, and the If-Match was not
judged again)."""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cpython"))
import support as s  # noqa: E402  (tests/cpython/support.py)

IF_MATCH = 1
NON_FLOOD = 100  # the figure: more than both dedup rings hold together
PATH = "plain"


class Peer:
    """A UDP socket of its own (its own source port) talking to the server."""

    def __init__(self, server):
        self.server = server
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((s.HOST, 0))

    def close(self):
        self.s.close()

    def send(self, datagram):
        self.s.sendto(datagram, self.server)

    def recv(self, timeout=5.0):
        """The next parsed message, or None after timeout seconds."""
        self.s.settimeout(timeout)
        try:
            return s.parse(self.s.recv(4096))
        except socket.timeout:
            return None

    def exchange(self, datagram, mid, timeout=5.0):
        """Send datagram, return the ACK/RST with its Message ID; other
        messages that arrive first are returned in the list beside it."""
        self.send(datagram)
        others = []
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            msg = self.recv(max(0.01, end - time.monotonic()))
            if msg is None:
                break
            if msg["type"] in (s.ACK, s.RST) and msg["mid"] == mid:
                return msg, others
            others.append(msg)
        return None, others


class Base(s.MPTestCase):
    gil = False

    def setUp(self):
        self.port = s.free_port()
        self.srv = s.start_mp_server(self, self.port, gil=self.gil)
        self.a = Peer((s.HOST, self.port))
        self.b = Peer((s.HOST, self.port))
        self.addCleanup(self.a.close)
        self.addCleanup(self.b.close)
        self.assertNotEqual(self.a.s.getsockname(), self.b.s.getsockname())

    def get(self, peer, mid):
        msg, _ = peer.exchange(s.build(s.CON, s.GET, mid, b"g%d" % mid, s.path_options(PATH)), mid)
        if msg is None:
            self.fail_with("no answer to GET %s" % PATH, self.srv)
        self.assertEqual(msg["code"], s.C205, msg)
        return msg["payload"], s.option(msg, s.ETAG_OPT)

    def test_retransmitted_con_put_survives_a_non_flood(self):
        value0, etag0 = self.get(self.a, 0x100)
        self.assertIsNotNone(etag0)
        put_mid, token = 0x200, b"\x01put"
        put = s.build(s.CON, s.PUT, put_mid, token,
                      s.path_options(PATH) + [(IF_MATCH, etag0)], b"applied once")
        first, _ = self.a.exchange(put, put_mid)
        if first is None:
            self.fail_with("no answer to the conditional PUT", self.srv)
        self.assertEqual((first["type"], first["code"]), (s.ACK, s.C204), first)
        etag1 = s.option(first, s.ETAG_OPT)
        self.assertIsNotNone(etag1)
        self.assertEqual(int.from_bytes(etag1, "big"), int.from_bytes(etag0, "big") + 1)
        # A's ACK is lost. B floods NON GETs from its own port...
        for i in range(NON_FLOOD):
            self.b.send(s.build(s.NON, s.GET, 0x1000 + i, b"n", s.path_options(PATH)))
        # ...and a CON GET after them: the server reads one socket in order, so
        # once this is answered, it has handled every NON GET before it.
        fence, non_replies = self.b.exchange(
            s.build(s.CON, s.GET, 0x2000, b"f", s.path_options(PATH)), 0x2000, timeout=20)
        if fence is None:
            self.fail_with("no answer to B's GET after the NON flood", self.srv)
        self.assertEqual(len([m for m in non_replies if m["type"] == s.NON]), NON_FLOOD,
                         "every NON GET was handled")
        # A retransmits the very same datagram.
        again, _ = self.a.exchange(put, put_mid)
        if again is None:
            self.fail_with("no answer to the retransmitted PUT", self.srv)
        self.assertEqual((again["type"], again["code"], again["token"]), (s.ACK, s.C204, token), again)
        self.assertEqual(s.option(again, s.ETAG_OPT), etag1, "the same 2.04 as the first answer")
        value, etag = self.get(self.a, 0x300)
        self.assertEqual((value, etag), (b"applied once", etag1), "the PUT was applied once")


class GilBuild(Base):
    gil = True


class NoGilBuild(Base):
    pass


del Base

if __name__ == "__main__":
    unittest.main()
