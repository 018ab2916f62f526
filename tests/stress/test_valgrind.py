"""The module under valgrind's memcheck, on the unix build (threads, no GIL).

1. Bad Python input: every tests/test_errors*.py (STRESS_VALGRIND_FILES, a
   glob in tests/, widens it; wrong types, counts, values
   for every function and method; written with the functional tests) runs
   under memcheck; its tests must pass and memcheck must report nothing.
2. The server path: mp_server.py under memcheck takes STRESS_VALGRIND_FLOOD
   (default 10000) malformed datagrams from test_flood's generator mixed with
   valid GETs and PUTs, answers a normal GET correctly, then quits cleanly.

valgrind.supp suppresses only MicroPython's conservative stack scan (gc_*).
The GC heap is one malloc block to valgrind, so overruns *inside* it are not
seen; uninitialised bytes reaching a syscall (sendto) or a branch, and any
access outside the heap, are.
"""

import os
import random
import socket
import subprocess
import sys
import time
import glob
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cpython"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import support as S  # noqa: E402  (tests/cpython/support.py)
import test_flood  # noqa: E402  (next to this file)

FLOOD = int(os.environ.get("STRESS_VALGRIND_FLOOD", "10000"))
# Which of the MicroPython unittest files to run under memcheck.
PATTERN = os.environ.get("STRESS_VALGRIND_FILES", "test_errors*.py")
ERR_EXIT = 99


def valgrind_cmd(binary):
    return ["valgrind", "-q", "--error-exitcode=%d" % ERR_EXIT, "--num-callers=30",
            "--suppressions=" + os.path.join(S.STRESS, "valgrind.supp"), binary]


def has_symbols(binary):
    out = subprocess.run(["file", "-L", binary], capture_output=True, text=True).stdout
    return "not stripped" in out


class Valgrind(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.binary = S.micropython(required=True)
        if not has_symbols(cls.binary):
            raise AssertionError("%s is stripped: the suppressions need symbols (mk/unix.mk builds with STRIP=)"
                                 % cls.binary)

    def test_bad_python_input(self):
        files = sorted(glob.glob(os.path.join(S.ROOT, "tests", PATTERN)))
        self.assertTrue(files, "no tests/test_errors*.py")
        env = dict(os.environ)
        env["MICROPYPATH"] = os.pathsep.join([os.path.join(S.ROOT, "tests"), os.path.join(S.ROOT, "build", "lib")])
        for path in files:
            t0 = time.monotonic()
            r = subprocess.run(valgrind_cmd(self.binary) + [path], env=env, cwd=os.path.join(S.ROOT, "tests"),
                               capture_output=True, text=True, timeout=900)
            out = r.stdout + r.stderr
            ran = [l for l in out.splitlines() if l.startswith("Ran ")]
            print("\nvalgrind %s: exit %d, %s, %.0f s" % (os.path.basename(path), r.returncode, ran, time.monotonic() - t0),
                  file=sys.stderr)
            self.assertEqual(r.returncode, 0, out[-6000:])
            self.assertTrue(ran and "OK" in out, out[-3000:])

    def test_server_under_malformed_input(self):
        port = S.free_port()
        p = S.Proc(valgrind_cmd(self.binary) + [os.path.join(S.STRESS, "mp_server.py"), str(port)])
        self.addCleanup(p.stop)
        p.expect("ready", 60)
        c = S.Client((S.HOST, port), seed=5)
        self.addCleanup(c.close)
        rng = random.Random(11)
        flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(flood.close)
        flood.bind((S.HOST, 0))
        flood.setblocking(False)
        for i in range(FLOOD):
            d, _ = test_flood.mutate(rng)
            while not test_flood.harmless(d):
                d, _ = test_flood.mutate(rng)
            flood.sendto(d, (S.HOST, port))
            if i % 20 == 19:  # pace to the (slow) server under valgrind
                m = c.request(S.PUT, "etag", payload=b"%d" % i, timeout=10)
                self.assertEqual(m["code"], S.C204, m)
                try:
                    while True:
                        flood.recv(65536)
                except BlockingIOError:
                    pass
        m = c.request(S.GET, "bench", timeout=10)
        self.assertEqual((m["code"], m["payload"]), (S.C205, test_flood.PAYLOAD))
        c.control(b"quit")
        p.expect("BYE", 30)
        rc = p.wait(60)
        print("\nvalgrind server: %d malformed datagrams + %d PUTs, exit %d" % (FLOOD, FLOOD // 20, rc), file=sys.stderr)
        self.assertEqual(rc, 0, "valgrind reported errors (exit %d):\n%s" % (rc, p.output()))


if __name__ == "__main__":
    unittest.main()
