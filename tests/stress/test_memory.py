"""GC heap bytes allocated per served GET, in steady state, on the unix build.

mp_server.py in "mem" mode serves WARMUP datagrams, then WINDOWS windows of
WINDOW datagrams each with the GC disabled, summing gc.mem_alloc() deltas (a
collection between windows, outside the count). The loop itself allocates
nothing (small ints only, `read` bound once), so the figure is the module's.
Published in BENCHMARKS.md ("Memory per request"); bounded here.
"""

import os
import socket
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _support as S  # noqa: E402

WARMUP, WINDOW, WINDOWS = 500, 500, 10
# Bytes per GET. Measured figure and its origin are in BENCHMARKS.md; this bound
# is that figure (rounded up to whole GC blocks), so any new allocation fails it.
MAX_BYTES_PER_GET = int(os.environ.get("STRESS_MAX_BYTES_PER_GET", "0"))
PAYLOAD = open(os.path.join(S.HERE, "..", "bench", "payload.txt"), "rb").read()


def load(port, stop, errors, clients=4, depth=4):
    """Pipelined GET /bench from `clients` sockets until `stop` is set."""
    socks = []
    for _ in range(clients):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((S.HOST, 0))
        s.settimeout(0.5)
        socks.append(s)
    mid = 0
    try:
        while not stop.is_set():
            for s in socks:
                for _ in range(depth):
                    mid = (mid + 1) & 0xFFFF
                    s.sendto(S.build(S.CON, S.GET, mid, mid.to_bytes(2, "big"), S.path_options("bench")),
                             (S.HOST, port))
            for s in socks:
                for _ in range(depth):
                    try:
                        m = S.parse(s.recv(2048))
                    except socket.timeout:
                        break  # the server stopped reading (it is measuring); resend
                    if not m or m["code"] != S.C205 or m["payload"] != PAYLOAD:
                        errors.append(m)
    finally:
        for s in socks:
            s.close()


class MemoryPerRequest(unittest.TestCase):
    def test_bytes_per_get(self):
        port = S.free_port()
        server = S.mp_server(port, "mem", WARMUP, WINDOW, WINDOWS)
        self.addCleanup(server.stop)
        stop, errors = threading.Event(), []
        t = threading.Thread(target=load, args=(port, stop, errors), daemon=True)
        t.start()
        try:
            _, nbytes, n = server.expect("MEM", 60).split()
        finally:
            stop.set()
            t.join(5)
        nbytes, n = int(nbytes), int(n)
        per = nbytes / n
        print("\nmemory: %d bytes allocated over %d GETs = %.1f bytes/GET" % (nbytes, n, per), file=sys.stderr)
        self.assertEqual(errors, [])
        self.assertGreaterEqual(n, WINDOW * WINDOWS)
        self.assertLessEqual(per, MAX_BYTES_PER_GET)


if __name__ == "__main__":
    unittest.main()
