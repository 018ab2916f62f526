"""Lossy link: the module's client and server (two MicroPython processes) through a
seeded relay that drops 25% of datagrams each way (and duplicates 10%), with the
cap that RFC 7252 retransmission needs (relay.py: never a 4th lost attempt in a
row). 200 CON PUTs over 4 sessions, each to its own relay port (NSTART allows
one CON in flight per destination endpoint), all complete, each is applied exactly once
(the ETag advances by exactly 200) and reaches the handler exactly once.
A second client behind a relay that drops everything sees its request give up:
the handler gets code 0 and type Coap.TIMEOUT, after MAX_TRANSMIT_SPAN + timeout
(31 to 46.5 times ACK_TIMEOUT, with ACK_RANDOM_FACTOR 1.5, MAX_RETRANSMIT 4).
Both scenarios run at the same time; the wall time is printed.

Both clients shorten ACK_TIMEOUT to ACK_TIMEOUT_MS through the private knob
(docs/internals.md): the behaviour under test is recovery from loss and the
give-up, not the shipped 2 s scale, and every timer scales with it (so does the
pace of new requests, which keeps the deduplication cache's margin the same).
"""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cpython"))
import support as S  # noqa: E402  (tests/cpython/support.py)

SEED = int(os.environ.get("STRESS_SEED", "7252"))
PUTS, SESSIONS = 200, 4
ACK_TIMEOUT_MS = 250


def etag_of(client):
    msg = client.request(S.GET, "etag")
    assert msg["code"] == S.C205, msg
    e = S.option(msg, S.ETAG_OPT)
    assert e is not None, "no ETag on /etag: %r" % msg
    return int.from_bytes(e, "big")


class LossyLink(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.procs = []
        cls.t0 = time.monotonic()
        try:
            cls.server_port = S.free_port()
            cls.server = cls._start(S.mp_server, cls.server_port)
            cls.direct = S.Client((S.HOST, cls.server_port), seed=SEED)
            cls.etag0 = etag_of(cls.direct)
            py = sys.executable
            relay = os.path.join(S.STRESS, "relay.py")
            cls.relay = cls._start(S.Proc, [py, relay, str(cls.server_port), "--seed", str(SEED),
                                            "--loss", "0.25", "--dup", "0.1", "--cap", "3",
                                            "--fronts", str(SESSIONS)])
            relay_ports = ",".join(cls.relay.expect("ready", 10).split()[1:])
            cls.blackhole = cls._start(S.Proc, [py, relay, str(cls.server_port), "--seed", str(SEED),
                                                "--loss", "1.0", "--cap", "0"])
            hole_port = int(cls.blackhole.expect("ready", 10).split()[1])
            mp = S.micropython(required=True)
            client = os.path.join(S.STRESS, "mp_client.py")
            ack = str(ACK_TIMEOUT_MS)
            cls.lossy = cls._start(S.Proc, [mp, client, relay_ports, str(SESSIONS), str(PUTS), ack])
            cls.giveup = cls._start(S.Proc, [mp, client, str(hole_port), "1", "1", ack])
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _start(cls, factory, *args):
        p = factory(*args)
        cls.procs.append(p)
        return p

    @classmethod
    def tearDownClass(cls):
        for p in reversed(cls.procs):
            p.stop()
        if getattr(cls, "direct", None):
            cls.direct.close()

    def test_200_puts_over_25_percent_loss(self):
        done = self.lossy.expect("DONE", 290).split()
        wall = time.monotonic() - self.t0
        delivered, dups, timeouts, other, secs = int(done[1]), int(done[2]), int(done[3]), int(done[4]), float(done[5])
        self.relay.p.terminate()
        stats = json.loads(self.relay.expect("STATS", 10).split(" ", 1)[1])
        etag1 = etag_of(self.direct)
        print("\nlossy link: %d PUTs over %d sessions in %.1f s (wall %.1f s); relay %s; ETag %d -> %d"
              % (delivered, SESSIONS, secs, wall, json.dumps(stats), self.etag0, etag1), file=sys.stderr)
        self.assertEqual((delivered, dups, timeouts, other), (PUTS, 0, 0, 0), self.lossy.output())
        self.assertEqual(etag1 - self.etag0, PUTS, "each PUT applied exactly once")
        # The run really was lossy, and duplicate responses really reached the client.
        self.assertGreater(stats["dropped_to_server"], PUTS // 10)
        self.assertGreater(stats["dropped_to_client"], PUTS // 10)
        self.assertGreater(stats["dup_to_client"], 0)
        self.assertLess(wall, 300)

    def test_unbounded_loss_gives_up_with_timeout(self):
        line = self.giveup.expect("DONE", 150)
        self.assertIn("ACK_TIMEOUT %d" % ACK_TIMEOUT_MS, self.giveup.lines)
        r = [l for l in self.giveup.lines if l.startswith("R ")]
        _, delivered, dups, timeouts, other, secs = line.split()
        print("\ngive-up: %s after %s s" % (r, secs), file=sys.stderr)
        self.assertEqual((int(delivered), int(dups), int(timeouts), int(other)), (1, 0, 1, 0), self.giveup.output())
        # 1..1.5 ACK_TIMEOUT initial timeout, doubled 4 times: gives up
        # after 31x that; a little slack for the machine's scheduler.
        lo, hi = 31 * ACK_TIMEOUT_MS / 1000, 46.5 * ACK_TIMEOUT_MS / 1000
        self.assertTrue(0.97 * lo <= float(secs) <= hi + 1, secs)


if __name__ == "__main__":
    unittest.main()
