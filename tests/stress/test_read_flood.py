"""read(timeout) under a flood (contract "read()"): CPython flooders
(tests/stress/flooder.py) send CON GETs of /.well-known/core to the module's
server as fast as they can for the whole run, while the
server (tests/stress/mp_read_flood.py) calls read(100) in a loop and has one
request of its own outstanding to a port where nothing answers. Every
read(100) returns within READ_MARGIN_MS of its timeout, the flood really was
served, and the request gives up on time: after 31 to 46.5 times ACK_TIMEOUT
(RFC 7252 back-off: 1+2+4+8+16 timeouts of 1 to 1.5 ACK_TIMEOUT), which the
server shortens through the private knob so the test takes seconds.
"""

import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cpython"))
import support as S  # noqa: E402  (tests/cpython/support.py)

ACK_TIMEOUT_MS = 100
SECONDS = 8
READ_MS = 100
# read() checks the clock after each datagram; the margin covers the last
# datagram's handling and the scheduler of a loaded 2-core machine.
READ_MARGIN_MS = 60
FLOODERS = 2
# How late the give-up may be reported.
GIVEUP_MARGIN_MS = 150


class ReadUnderFlood(unittest.TestCase):
    def test_read_keeps_its_timeout_and_timers_run(self):
        port, hole_port = S.free_port(), S.free_port()
        hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        hole.bind((S.HOST, hole_port))  # receives the request, never answers
        self.addCleanup(hole.close)
        # The server runs at a lower priority than the flooders, so that on
        # a busy machine it is the flood that outpaces the server, not the
        # other way round.
        server = S.Proc([S.micropython(required=True), os.path.join(S.STRESS, "mp_read_flood.py"),
                         str(port), str(hole_port), str(ACK_TIMEOUT_MS), str(SECONDS)])
        self.addCleanup(server.stop)
        ack_timeout = int(server.expect("READY", 15).split()[1])
        self.assertEqual(ack_timeout, ACK_TIMEOUT_MS)

        # Two flooding processes, each sending as fast as it can, so that
        # datagrams keep waiting whenever read() looks.
        flooders = [S.Proc([sys.executable, os.path.join(S.STRESS, "flooder.py"), str(port),
                            str(SECONDS + 2), ".well-known/core"]) for _ in range(FLOODERS)]
        for f in flooders:
            self.addCleanup(f.stop)
        done = server.expect("READS", SECONDS + 30).split()
        sent = sum(int(f.expect("SENT", 15).split()[1]) for f in flooders)
        reads, longest, handled, empty = (int(x) for x in done[1:5])
        giveups = [int(l.split()[1]) for l in server.lines if l.startswith("GIVEUP")]
        print("\nread under flood: %d reads, longest %d ms, %d datagrams handled (%d sent), "
              "%d reads handled none; gave up after %s ms"
              % (reads, longest, handled, sent, empty, giveups), file=sys.stderr)
        self.assertLessEqual(longest, READ_MS + READ_MARGIN_MS)
        self.assertGreater(handled, 1000, "the flood did not reach the server")
        self.assertEqual(len(giveups), 1, server.output())
        lo, hi = 31 * ACK_TIMEOUT_MS, 31 * ACK_TIMEOUT_MS * 3 // 2
        self.assertTrue(lo <= giveups[0] <= hi + GIVEUP_MARGIN_MS, giveups[0])


if __name__ == "__main__":
    unittest.main()
