"""Runs examples/*.py (the API page's three examples, the asyncio one, the observable sensor and the observing client) on the unix build over
loopback and checks what they print, so they stay true."""

import os
import re
import time
import unittest

import os as _os, sys as _sys
_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))), "cpython"))
import support as s  # noqa: E402  (tests/cpython/support.py)

EX = os.path.join(s.ROOT, "examples")


def responses(out):
    """[(code, type, token, payload)] from the examples' callback prints.
    The main thread prints the IDs while the reading thread prints
    responses, so lines can interleave (print() writes the text and the
    newline separately): match each field by its own shape."""
    codes = re.findall(r"Code: (\d\d)", out)  # 2.0x codes only in these runs
    types = re.findall(r"Type: (\d)", out)
    tokens = re.findall(r"Token: (b'[^']*')", out)
    payloads = re.findall(r"Payload: (b'[^']*')", out)
    return list(zip(codes, types, tokens, payloads))


class Examples(s.MPTestCase):
    gil = False

    def setUp(self):
        s.need_tool(self, "coap-server-notls")
        self.p1 = s.free_port()
        self.libcoap = s.Proc(["coap-server-notls", "-A", "127.0.0.1", "-p", str(self.p1)])
        self.addCleanup(self.libcoap.stop)
        self.p2 = s.free_port()
        self.server = s.start_mp(self, os.path.join(EX, "server.py"), [self.p2, 12], gil=self.gil)
        if self.server.wait_line("serving", 10) is None:
            self.fail_with("examples/server.py did not start", self.server)
        time.sleep(0.3)

    def run_example(self, name, args):
        p = s.start_mp(self, os.path.join(EX, name), args, gil=self.gil)
        rc = p.wait_exit(20)
        out = p.output()
        self.assertEqual(rc, 0, out)
        self.assertIn("done", out.splitlines()[-1], out)
        self.assertNotIn("Traceback", out)
        return out

    def test_all_three(self):
        out = self.run_example("client_blocking.py", [self.p1, s.free_port(), 4])
        self.assertEqual(out.count("Code: "), 4, out)
        rs = responses(out)
        self.assertEqual(len(rs), 4, out)
        by_tok = {r[2]: r for r in rs}
        self.assertEqual(by_tok["b'token1'"][0], "69")
        self.assertIn("</time>", by_tok["b'token1'"][3])
        self.assertEqual(by_tok["b'token2'"][0], "69")
        self.assertIn(by_tok["b'token3'"][0], ("65", "68"))
        imei = repr(int("359738090028145").to_bytes(8, "big"))
        self.assertIn("Token: " + imei, out)  # the Dish-style request without options was answered
        for r in rs:
            self.assertEqual(r[1], "2")

        out = self.run_example("client_nonblocking.py", [self.p1, self.p2, 4])
        self.assertEqual(out.count("Code: "), 5, out)
        rs = responses(out)
        self.assertEqual(len(rs), 5, out)
        s1 = [r for r in rs if r[2] == "b'session1'"]
        self.assertEqual(len(s1), 2, out)
        s2 = [r for r in rs if r[2] == "b''"]
        self.assertEqual(len(s2), 3, out)
        payloads = [r[3] for r in s2]
        self.assertIn('b\'</resource1>;title="resource1";ct=0,</resource2>\'', payloads)
        self.assertIn("b'default_value'", payloads)
        self.assertIn("68", [r[0] for r in s2])  # the POST

        rc = self.server.wait_exit(15)
        out = self.server.output()
        self.assertEqual(rc, 0, out)
        self.assertIn("resource1 = b'new_value'", out)
        self.assertIn("done", out)
        self.assertNotIn("Traceback", out)

    def test_asyncio_sensor(self):
        # examples/asyncio_sensor.py: its own server and libcoap's, from tasks.
        n = 3
        out = self.run_example("asyncio_sensor.py", [s.free_port(), n, self.p1])
        temps = re.findall(r"temp: code (\d+) payload b'([0-9.]+)'", out)
        self.assertEqual(len(temps), n, out)
        self.assertEqual({c for c, _ in temps}, {"69"}, out)
        self.assertEqual(re.findall(r"time: code (\d+)", out), ["69"] * n, out)

    def test_asyncio_sensor_is_observable(self):
        # Its /temp, observed by libcoap's coap-client while the program
        # runs: each reading (one a second) arrives, in order.
        port = s.free_port()
        ex = s.start_mp(self, os.path.join(EX, "asyncio_sensor.py"), [port, 5], gil=self.gil)
        if ex.wait_line("serving", 10) is None:
            self.fail_with("examples/asyncio_sensor.py did not start", ex)
        r = s.run(["coap-client-notls", "-s", "4", "-m", "get", "coap://127.0.0.1:%d/temp" % port], timeout=15)
        tenths = [int(v.replace(".", "")) for v in re.findall(r"\d+\.\d", r.stdout.decode())]
        self.assertGreaterEqual(len(tenths), 3, r.stdout)
        self.assertEqual(tenths, list(range(tenths[0], tenths[0] + len(tenths))), r.stdout)
        self.assertEqual(ex.wait_exit(20), 0, ex.output())


    def test_observable_sensor(self):
        # examples/observable_sensor.py: libcoap's coap-client observes /temp
        # and sees every reading, in order.
        port = s.free_port()
        ex = s.start_mp(self, os.path.join(EX, "observable_sensor.py"), [port, 12, 200], gil=self.gil)
        if ex.wait_line("serving", 10) is None:
            self.fail_with("examples/observable_sensor.py did not start", ex)
        r = s.run(["coap-client-notls", "-s", "3", "-m", "get", "coap://127.0.0.1:%d/temp" % port], timeout=15)
        seen = re.findall(r"\d+\.\d", r.stdout.decode())
        self.assertGreaterEqual(len(seen), 8, r.stdout)
        tenths = [int(v.replace(".", "")) for v in seen]
        self.assertEqual(tenths, list(range(tenths[0], tenths[0] + 3 * len(tenths), 3)), seen)
        self.assertEqual(ex.wait_exit(15), 0, ex.output())
        self.assertIn("done", ex.output())

    def test_observe_client(self):
        # examples/observe_client.py: observes libcoap's /time for 4 s (a
        # new second each time, in order), cancels, and gets nothing after.
        out = self.run_example("observe_client.py", [self.p1, "time", 4])
        lines = out.splitlines()
        cut = next(i for i, l in enumerate(lines) if l.startswith("cancelled"))
        notes = [l for l in lines[:cut] if l.startswith("notification 69 ")]
        self.assertGreaterEqual(len(notes), 4, out)  # the answer and >= 3 changes
        self.assertEqual(notes, sorted(notes), out)
        self.assertGreaterEqual(len(set(notes)), 4, out)
        self.assertEqual(lines[cut], "cancelled True", out)
        self.assertFalse([l for l in lines[cut:] if l.startswith(("notification", "other"))], out)

    def test_observe_client_and_sensor(self):
        # The two examples together: the client sees the sensor's readings.
        port = s.free_port()
        ex = s.start_mp(self, os.path.join(EX, "observable_sensor.py"), [port, 15, 200], gil=self.gil)
        if ex.wait_line("serving", 10) is None:
            self.fail_with("examples/observable_sensor.py did not start", ex)
        out = self.run_example("observe_client.py", [port, "temp", 2])
        tenths = [int(v.replace(".", "")) for v in re.findall(r"notification 69 b'(\d+\.\d)'", out)]
        self.assertGreaterEqual(len(tenths), 6, out)
        self.assertEqual(tenths, list(range(tenths[0], tenths[0] + 3 * len(tenths), 3)), out)
        self.assertEqual(ex.wait_exit(15), 0, ex.output())


@unittest.skipUnless(os.path.exists(s.micropython(True)), "GIL build missing")
class ExamplesGil(Examples):
    gil = True


if __name__ == "__main__":
    unittest.main()
