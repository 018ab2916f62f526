"""Observe (RFC 7641), client side, against real peers: the module's client
(`send_request(..., observe=True)`, `cancel_observe`) observing libcoap's
coap-server (4.3.1, its observable /time, which changes every second) and
the module's own server over loopback, with a representation large enough
to come block-wise. The module as the observed server is in
test_observe.py."""

import os
import time

import os as _os, sys as _sys
_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))), "cpython"))
import support as s  # noqa: E402  (tests/cpython/support.py)

MP_OBSERVE = os.path.join(s.INTEROP, "mp_observe_client.py")
C205 = 69

# The observed server for ModuleServer: /obs changes every 200 ms; /big
# (3000 bytes, so block-wise) every 500 ms; each value names its round.
SERVER = r'''
import sys, time
import coap
coap.init("127.0.0.1", port=int(sys.argv[1]))
obs = coap.add_resource("obs", media_type=0, value=b"n0", observable=True)
big = coap.add_resource("big", value=b"0" * 3000, observable=True)
for r in (obs, big):
    r.callback(coap.REQUEST_GET, True)
print("READY")
n, t = 0, time.ticks_ms()
while True:
    coap.read(20)
    if time.ticks_diff(time.ticks_ms(), t) >= 200:
        t = time.ticks_ms()
        n += 1
        obs.value(b"n%d" % n)
        if n % 2 == 0:
            big.value((b"%d" % (n % 10)) * 3000)
'''


def observe(tc, port, uri, observe_ms, after_ms, token=None, gil=False):
    """Runs mp_observe_client.py; returns (handler calls before the cancel,
    cancel_observe's two results, calls after it). A call is (ms, code,
    type, token, payload)."""
    args = ["127.0.0.1", port, uri, observe_ms, after_ms] + ([token.hex()] if token else [])
    p = s.start_mp(tc, MP_OBSERVE, [str(a) for a in args], gil=gil)
    rc = p.wait_exit((observe_ms + after_ms) / 1000.0 + 20)
    out = p.output()
    if rc != 0 or "DONE" not in out:
        tc.fail("observing client failed (rc=%r):\n%s" % (rc, out))
    before, after, cancel = [], [], None
    cur = before
    for line in out.splitlines():
        w = line.split(" ")
        if w[0] == "RESP":
            payload = w[5] if ":" in w[5] else bytes.fromhex(w[5]) if w[5] != "-" else b""
            cur.append((int(w[1]), int(w[2]), int(w[3]), bytes.fromhex(w[4]) if w[4] != "-" else b"", payload))
        elif w[0] == "CANCEL":
            cancel = (w[1], w[2])
        elif w[0] == "CANCELLED":
            cur = after
    return before, cancel, after, out


class LibcoapTime(s.MPTestCase):
    """libcoap's coap-server: /time is observable and changes every second."""

    def setUp(self):
        s.need_tool(self, "coap-server-notls")
        self.port = s.free_port()
        self.srv = s.Proc(["coap-server-notls", "-A", "127.0.0.1", "-p", str(self.port), "-v", "8"])
        self.addCleanup(self.srv.stop)
        time.sleep(0.3)

    def test_three_notifications_in_four_seconds_then_cancel(self):
        before, cancel, after, out = observe(self, self.port, "time", 4000, 3000, token=b"tm")
        self.assertGreaterEqual(len(before), 4, out)  # the registration's answer + >= 3 notifications
        for (_, code, _, tok, payload) in before:
            self.assertEqual((code, tok), (C205, b"tm"), out)
            self.assertTrue(payload, out)
        # In order, and at least 3 changes of the second (libcoap may also
        # notify once right after the registration's answer, with the same
        # time and a newer Observe number: fresh, so reported).
        payloads = [c[4] for c in before]
        self.assertEqual(sorted(payloads), payloads, out)
        self.assertGreaterEqual(len(set(payloads)), 4, out)
        self.assertEqual(cancel, ("True", "False"), out)
        self.assertEqual(after, [], "nothing reaches the handler after cancel_observe:\n" + out)
        # libcoap saw the deregistration: a GET with Observe 1 on the token,
        # and the observation is gone (it sends /time nothing more).
        time.sleep(0.2)
        received = [p for p in s.parse_pdus("\n".join(self.srv.lines)) if p.direction == "received"]
        dereg = [p for p in received if p.code == "GET" and p.token == b"tm" and "Observe:1" in p.options]
        self.assertEqual(len(dereg), 1, "\n".join(map(repr, received)))
        self.assertIn("Observe:0", received[0].options)

    def test_a_token_made_by_the_module(self):
        before, cancel, after, out = observe(self, self.port, "time", 2500, 1500)
        self.assertGreaterEqual(len(before), 2, out)
        tokens = {c[3] for c in before}
        self.assertEqual(len(tokens), 1, out)
        self.assertEqual(len(tokens.pop()), 4, out)
        self.assertEqual((cancel, after), (("True", "False"), []), out)


class ModuleServer(s.MPTestCase):
    """The module observing the module, over loopback: every notification
    in order, a large one fetched block-wise and reported whole."""

    gil = False

    def setUp(self):
        self.port = s.free_port()
        path = s.write_script(self, SERVER)
        self.mp = s.start_mp(self, path, [self.port], gil=self.gil)
        if self.mp.wait_line("READY", 15) is None:
            self.fail_with("server did not start", self.mp)

    def test_every_change_in_order(self):
        before, cancel, after, out = observe(self, self.port, "obs", 2200, 1000, token=b"\x01\x02", gil=self.gil)
        rounds = [int(c[4][1:]) for c in before]
        self.assertGreaterEqual(len(rounds), 8, out)
        self.assertEqual(rounds, list(range(rounds[0], rounds[0] + len(rounds))), "one per change, in order:\n" + out)
        self.assertEqual((cancel, after), (("True", "False"), []), out)

    def test_large_notifications_arrive_whole(self):
        before, cancel, after, out = observe(self, self.port, "big", 2600, 1200, token=b"bg", gil=self.gil)
        self.assertGreaterEqual(len(before), 4, out)
        digits = []
        for (_, code, _, tok, payload) in before:
            # "3000:<digit>:1": all 3000 bytes, every one the same digit.
            length, first, same = payload.split(":")
            self.assertEqual((code, tok, length, same), (C205, b"bg", "3000", "1"), out)
            digits.append(int(bytes.fromhex(first)))
        # The server stores digit n % 10 every second round: each
        # notification is the next value (2 more, modulo 10).
        steps = [(b - a) % 10 for a, b in zip(digits[1:], digits[2:])]
        self.assertEqual(steps, [2] * len(steps), "each notification is the next value:\n" + out)
        self.assertEqual((cancel, after), (("True", "False"), []), out)


class ModuleServerGil(ModuleServer):
    gil = True


if __name__ == "__main__":
    import unittest
    unittest.main()
