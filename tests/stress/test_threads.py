"""Threads: one thread blocked in read() (no timeout) while another adds/removes resources and
client sessions and changes values, STRESS_THREAD_ROUNDS (default 5000) times,
on both unix builds (no GIL, and GIL like esp32). No crash, no deadlock (a hard
time limit), nothing lost: every request the main thread waits for is answered
with the value it set, and an outside client's GETs of /stable and /counter
during the run are all answered, /counter never going backwards.
Then deinit() from one thread wakes a read() blocked without timeout in another.
See mp_threads.py for the script.
"""

import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cpython"))
import support as S  # noqa: E402  (tests/cpython/support.py)

ROUNDS = int(os.environ.get("STRESS_THREAD_ROUNDS", "5000"))
LIMIT_S = 240


def outside_client(port, stop, seen):
    """GETs /stable and /counter in turn until stop; records problems."""
    c = S.Client((S.HOST, port), seed=3)
    last = -1
    try:
        while not stop.is_set():
            for path in ("stable", "counter"):
                try:
                    m = c.request(S.GET, path, timeout=2.0, tries=1)
                except AssertionError as e:
                    seen["lost"].append(str(e))
                    continue
                except OSError:
                    return
                seen["n"] += 1
                if m["code"] != S.C205:
                    seen["bad"].append(m)
                elif path == "stable" and m["payload"] != b"stable":
                    seen["bad"].append(m)
                elif path == "counter":
                    v = int(m["payload"] or b"0")
                    if v < last:
                        seen["bad"].append(("counter went back", last, v))
                    last = v
    finally:
        c.close()


class Threads(unittest.TestCase):
    def run_build(self, gil):
        port = S.free_port()
        p = S.Proc([S.micropython(gil, required=True), os.path.join(S.STRESS, "mp_threads.py"), str(port), str(ROUNDS)])
        self.addCleanup(p.stop)
        p.expect("ready", 15)
        stop, seen = threading.Event(), {"n": 0, "lost": [], "bad": []}
        t = threading.Thread(target=outside_client, args=(port, stop, seen), daemon=True)
        t.start()
        try:
            done = p.expect("DONE", LIMIT_S).split()
        finally:
            stop.set()
            t.join(5)
        woke = p.expect("WOKE", 10)
        p.expect("END", 10)
        self.assertEqual(p.wait(10), 0, p.output())
        rounds, delivered, unexpected, reads, secs = int(done[1]), int(done[2]), int(done[3]), int(done[4]), float(done[5])
        print("\nthreads (%s): %d rounds, %d answered, %d datagrams read, %d outside GETs, %.1f s; %s"
              % ("GIL" if gil else "no GIL", rounds, delivered, reads, seen["n"], secs, woke), file=sys.stderr)
        self.assertEqual(delivered, rounds - rounds // 8)
        self.assertEqual(unexpected, 0, "a response delivered twice")
        self.assertEqual(seen["lost"], [])
        self.assertEqual(seen["bad"], [])
        self.assertGreater(seen["n"], 100)
        self.assertTrue(0 <= int(woke.split()[1]) < 1000, woke)

    def test_no_gil(self):
        self.run_build(gil=False)

    def test_gil(self):
        self.run_build(gil=True)


if __name__ == "__main__":
    unittest.main()
