"""GC heap bytes allocated per served GET, in steady state, on the unix build.

mp_server.py in "mem" mode serves WARMUP datagrams, then WINDOWS windows of
WINDOW datagrams each with the GC disabled, summing gc.mem_alloc() deltas (a
collection between windows, outside the count). The loop itself allocates
nothing (small ints only, `read` bound once), so the figure is the module's.
Published in BENCHMARKS.md ("Memory per request").

The bound is the floor MicroPython's socket API forces: what one bare
socket.recvfrom() of a same-size datagram allocates on the same binary
(mp_recvfrom_cost.py; on the 64-bit unix port 160 bytes = 5 GC blocks: the
bytes object and its data, the result tuple, the address bytes object and its
data). Any allocation the module adds on top fails the test.
"""

import os
import socket
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cpython"))
import support as S  # noqa: E402  (tests/cpython/support.py)

WARMUP, WINDOW, WINDOWS = 500, 500, 10
# The requests below are 12 bytes: header, 2-byte token, Uri-Path "bench".
REQUEST_LEN = 12
PAYLOAD = open(os.path.join(S.BENCH, "payload.txt"), "rb").read()


def get_bench(mid):
    return S.build(S.CON, S.GET, mid, mid.to_bytes(2, "big"), S.path_options("bench")), S.C205, PAYLOAD


def mixed(mid):
    """PUT /etag (2.04), GET of an unknown path (4.04), NON GET of /.well-known/core."""
    tok = mid.to_bytes(2, "big")
    kind = mid % 3
    if kind == 0:
        return S.build(S.CON, S.PUT, mid, tok, S.path_options("etag"), b"v%05d" % mid), S.C204, None
    if kind == 1:
        return S.build(S.CON, S.GET, mid, tok, S.path_options("nothere")), S.code(4, 4), None
    return S.build(S.NON, S.GET, mid, tok, S.path_options(".well-known/core")), S.C205, None


def load(port, stop, errors, make=get_bench, clients=4, depth=4):
    """Pipelined requests from `clients` sockets until `stop` is set."""
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
                    datagram, _, _ = make(mid)
                    s.sendto(datagram, (S.HOST, port))
            for s in socks:
                for _ in range(depth):
                    try:
                        m = S.parse(s.recv(2048))
                    except socket.timeout:
                        break  # the server stopped reading (it is measuring); resend
                    if not m:
                        errors.append(m)
                        continue
                    # The token is the request's MID (a NON answer has a MID of its own).
                    _, code, payload = make(int.from_bytes(m["token"], "big"))
                    if m["code"] != code or (payload is not None and m["payload"] != payload):
                        errors.append(m)
    finally:
        for s in socks:
            s.close()


def recvfrom_cost(length=REQUEST_LEN):
    p = S.Proc([S.micropython(required=True), os.path.join(S.STRESS, "mp_recvfrom_cost.py"), str(S.free_port()), str(length)])
    try:
        return int(p.expect("RECVFROM", 20).split()[1])
    finally:
        p.stop()


def measure(test, make):
    """(bytes allocated, datagrams handled, wrong answers) from mp_server's mem mode."""
    port = S.free_port()
    server = S.mp_server(port, "mem", WARMUP, WINDOW, WINDOWS)
    test.addCleanup(server.stop)
    stop, errors = threading.Event(), []
    t = threading.Thread(target=load, args=(port, stop, errors, make), daemon=True)
    t.start()
    try:
        _, nbytes, n = server.expect("MEM", 60).split()
    finally:
        stop.set()
        t.join(5)
    return int(nbytes), int(n), errors


class MemoryPerRequest(unittest.TestCase):
    def test_bytes_per_get(self):
        nbytes, n, errors = measure(self, get_bench)
        per = nbytes / n
        floor = recvfrom_cost()
        print("\nmemory: %d bytes allocated over %d GETs = %.1f bytes/GET; a bare recvfrom() allocates %d"
              % (nbytes, n, per, floor), file=sys.stderr)
        self.assertEqual(errors, [])
        self.assertGreaterEqual(n, WINDOW * WINDOWS)
        self.assertGreater(floor, 0)
        self.assertLessEqual(per, floor)


class MemoryPerOtherRequest(unittest.TestCase):
    def test_put_notfound_non_discovery(self):
        """The other answer paths allocate nothing of their own either."""
        nbytes, n, errors = measure(self, mixed)
        longest = max(len(mixed(mid)[0]) for mid in range(3))
        floor = recvfrom_cost(longest)
        print("\nmemory: %d bytes over %d mixed requests = %.1f bytes each; bare recvfrom() of %d bytes: %d"
              % (nbytes, n, nbytes / n, longest, floor), file=sys.stderr)
        self.assertEqual(errors, [])
        self.assertGreaterEqual(n, WINDOW * WINDOWS)
        self.assertLessEqual(nbytes / n, floor)


if __name__ == "__main__":
    unittest.main()
