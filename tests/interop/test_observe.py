"""Observe (RFC 7641), server side, against real peers: libcoap's
coap-client (4.3.1, `-s`), aiocoap's observation client, and raw CPython
datagrams that check the wire: the Observe option of the registration and
of each notification, CON first and NON once a round trip is known, the ACK
and the RST, the 4.04 when the resource goes, deregistration with Observe 1,
and the remote budget that bounds observers.

One MicroPython server (SCRIPT) per test. Its /ctl resource takes
commands between read() calls: "bump URI" (the application stores the next
value "vN"), "tick N" (N more changes of /tick, 200 ms apart), "remove URI",
"storage" (prints coap._storage()).
"""

import asyncio
import re
import socket
import time
import unittest

import os as _os, sys as _sys
_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))), "cpython"))
import support as s  # noqa: E402  (tests/cpython/support.py)

try:
    import aiocoap
    from aiocoap import Code, Message
except ImportError:  # pragma: no cover
    aiocoap = None

OBSERVE = 6
BUDGET = 1024  # init(remote_budget=): room for a few observers only

SCRIPT = r'''
import sys, time
import coap

port = int(sys.argv[1])
coap.init("127.0.0.1", port=port, remote_budget=%d)
ctl = coap.add_resource("ctl", value=b".")
ctl.callback(coap.REQUEST_PUT, True)
res, count = {}, {}
for uri, obs in (("obs", True), ("tick", True), ("gone", True), ("plain", False)):
    res[uri] = coap.add_resource(uri, media_type=0, value=b"v0", etag=True, observable=obs)
    res[uri].callback(coap.REQUEST_GET | coap.REQUEST_PUT, True)
    count[uri] = 0

def bump(uri):
    count[uri] += 1
    res[uri].value(b"v%%d" %% count[uri])

ticks, last = 0, time.ticks_ms()
print("READY", port, coap._storage()[3])
while True:
    coap.read(20)
    cmd = ctl.value()
    if cmd != b".":
        ctl.value(b".")
        word, _, arg = cmd.decode().partition(" ")
        if word == "bump":
            bump(arg)
        elif word == "tick":
            ticks = int(arg)
        elif word == "remove":
            coap.remove_resource(arg)
        elif word == "storage":
            print("STORAGE", coap._storage())
    if ticks and time.ticks_diff(time.ticks_ms(), last) >= 200:
        last = time.ticks_ms()
        ticks -= 1
        bump("tick")
        if not ticks:
            print("TICKED", count["tick"])
''' % BUDGET


class ObserveBase(s.RawClientCase):
    def setUp(self):
        self.port = s.free_port()
        path = s.write_script(self, SCRIPT)
        self.mp = s.start_mp(self, path, [self.port])
        line = self.mp.wait_line("READY", 15)
        if line is None:
            self.fail_with("server did not start", self.mp)
        self.open_raw((s.HOST, self.port), 100)
        self.ctl = s.Client(self.server, seed=7)
        self.addCleanup(self.ctl.close)

    def register(self, path, token, observe=0):
        mid = self.send(s.CON, s.GET, path, token, [(OBSERVE, observe)])
        m = self.recv()
        self.assertIsNotNone(m, "no answer to the registration")
        self.assertEqual((m["type"], m["mid"], m["token"]), (s.ACK, mid, token))
        return m

    def storage(self):
        self.ctl.control(b"storage")
        line = self.mp.wait_line("STORAGE", 5)
        self.assertIsNotNone(line, self.mp.output())
        return eval(line.split(" ", 1)[1])  # (blocks, bytes, remote bytes, budget)


def observe_of(m):
    v = s.option(m, OBSERVE)
    return None if v is None else int.from_bytes(v, "big")


class TestObserveWire(ObserveBase):
    def test_registration_then_con_notification_then_non_after_the_ack(self):
        m = self.register("obs", b"tk")
        self.assertEqual((m["code"], m["payload"]), (s.C205, b"v0"))
        first = observe_of(m)
        self.assertIsNotNone(first, "the answer to a registration carries Observe")
        self.ctl.control(b"bump obs")
        n = self.recv()
        self.assertIsNotNone(n, "no notification after a change")
        self.assertEqual((n["type"], n["code"], n["token"], n["payload"]), (s.CON, s.C205, b"tk", b"v1"))
        self.assertEqual(observe_of(n), first + 1)
        self.assertEqual(s.option(n, s.ETAG_OPT), b"\x02")
        # Acknowledged: a round trip is known, the next one is NON.
        self.send(s.ACK, 0, mid=n["mid"])
        self.ctl.control(b"bump obs")
        n2 = self.recv()
        self.assertEqual((n2["type"], n2["payload"], observe_of(n2)), (s.NON, b"v2", first + 2))
        self.assertIsNone(self.recv(0.3), "one notification per change")

    def test_unacknowledged_con_is_retransmitted_with_the_same_message(self):
        self.register("obs", b"re")
        self.ctl.control(b"bump obs")
        n = self.recv()
        again = self.recv(4.0)  # ACK_TIMEOUT 2-3 s
        self.assertIsNotNone(again, "no retransmission")
        self.assertEqual((again["mid"], again["payload"], observe_of(again)), (n["mid"], n["payload"], observe_of(n)))
        self.send(s.ACK, 0, mid=n["mid"])
        self.assertIsNone(self.recv(3.5), "retransmitted after the ACK")

    def test_rst_ends_the_observation(self):
        before = self.storage()[2]
        self.register("obs", b"rs")
        self.assertGreater(self.storage()[2], before, "an observer counts against the remote budget")
        self.ctl.control(b"bump obs")
        n = self.recv()
        self.send(s.RST, 0, mid=n["mid"])
        self.ctl.control(b"bump obs")
        self.assertIsNone(self.recv(0.5), "notified after RST")
        self.assertEqual(self.storage()[2], before)

    def test_get_with_observe_1_deregisters(self):
        self.register("obs", b"d1")
        m = self.register("obs", b"d1", observe=1)
        self.assertEqual((m["code"], m["payload"], observe_of(m)), (s.C205, b"v0", None))
        self.ctl.control(b"bump obs")
        self.assertIsNone(self.recv(0.5))

    def test_removed_resource_sends_4_04(self):
        self.register("gone", b"g")
        self.ctl.control(b"remove gone")
        n = self.recv()
        self.assertIsNotNone(n)
        self.assertEqual((n["code"], n["token"], observe_of(n)), (s.code(4, 4), b"g", None))

    def test_a_resource_not_observable_is_served_plain(self):
        m = self.register("plain", b"p")
        self.assertEqual((m["code"], observe_of(m)), (s.C205, None))
        self.ctl.control(b"bump plain")
        self.assertIsNone(self.recv(0.5))

    def test_discovery_shows_obs(self):
        msg = self.ctl.request(s.GET, ".well-known/core")
        self.assertIn(b"</obs>;obs", msg["payload"])
        self.assertNotIn(b"</plain>;obs", msg["payload"])
        msg = self.ctl.request(s.GET, ".well-known/core?obs")
        self.assertEqual(msg["payload"], b"</obs>;obs,</tick>;obs,</gone>;obs")

    def test_the_remote_budget_bounds_observers_and_comes_back(self):
        blocks, _, before, budget = self.storage()
        self.assertEqual(budget, BUDGET)
        tokens = []
        while True:
            tok = b"b%d" % len(tokens)
            m = self.register("obs", tok)
            if observe_of(m) is None:
                break
            tokens.append(tok)
            self.assertLess(len(tokens), budget, "the budget never ran out")
        self.assertEqual(m["payload"], b"v0", "over the budget: served as a plain GET")
        per = (self.storage()[2] - before) // len(tokens)
        self.assertGreater(len(tokens), 1)
        self.assertGreater(per * (len(tokens) + 1), budget - before)
        # All get the change (CON: no round trip known yet), then leave.
        self.ctl.control(b"bump obs")
        got = {}
        for _ in tokens:
            n = self.recv()
            self.assertIsNotNone(n, "got %d of %d" % (len(got), len(tokens)))
            got[n["token"]] = n["payload"]
            self.send(s.RST, 0, mid=n["mid"])
        self.assertEqual(got, {t: b"v1" for t in tokens})
        self.assertEqual(self.storage()[1:3], (self.storage()[1], before))
        self.assertEqual(self.storage()[0], blocks)


class TestObserveLibcoap(ObserveBase):
    def test_libcoap_observer_sees_every_change_in_order(self):
        s.need_tool(self, "coap-client-notls")
        self.ctl.control(b"tick 15")
        r = s.run(["coap-client-notls", "-s", "4", "-m", "get", "coap://127.0.0.1:%d/tick" % self.port], timeout=15)
        out = r.stdout.decode()
        seen = [int(v) for v in re.findall(r"v(\d+)", out)]
        self.assertGreaterEqual(len(seen), 10, out)
        self.assertEqual(seen, list(range(seen[0], seen[0] + len(seen))), "missed or reordered: %s" % out)


ASYNC_SCRIPT = r'''
import sys
import asyncio
import coap, coap_asyncio

port = int(sys.argv[1])
coap.init("127.0.0.1", port=port)
r = coap.add_resource("obs", value=b"v0", observable=True)
r.callback(coap.REQUEST_GET, True)

async def main():
    serving = asyncio.create_task(coap_asyncio.serve())
    print("READY", port)
    await asyncio.sleep_ms(500)
    for i in range(1, 16):
        await asyncio.sleep_ms(200)
        r.value(b"v%d" % i)
    await asyncio.sleep_ms(500)
    serving.cancel()
    print("DONE")

asyncio.run(main())
'''


class TestObserveAsyncio(s.MPTestCase):
    def test_serve_sends_each_change_at_once(self):
        # coap_asyncio.serve(): a value(x) made in a task wakes it, so a
        # libcoap observer sees every change (not the newest one per
        # second), in order.
        s.need_tool(self, "coap-client-notls")
        port = s.free_port()
        mp = s.start_mp(self, s.write_script(self, ASYNC_SCRIPT), [port])
        if mp.wait_line("READY", 15) is None:
            self.fail_with("server did not start", mp)
        r = s.run(["coap-client-notls", "-s", "4", "-m", "get", "coap://127.0.0.1:%d/obs" % port], timeout=15)
        seen = [int(v) for v in re.findall(r"v(\d+)", r.stdout.decode())]
        self.assertEqual(seen, list(range(seen[0], 16)) if seen else [None], r.stdout)
        self.assertLessEqual(seen[0], 1, r.stdout)


@unittest.skipIf(aiocoap is None, "aiocoap not installed")
class TestObserveAiocoap(ObserveBase):
    def test_aiocoap_observation_gets_each_change(self):
        async def main():
            ctx = await aiocoap.Context.create_client_context()
            try:
                req = Message(code=Code.GET, uri="coap://127.0.0.1:%d/obs" % self.port, observe=0)
                pr = ctx.request(req)
                first = await asyncio.wait_for(pr.response, 5)
                got = [first.payload]
                notifications = pr.observation.__aiter__()
                loop = asyncio.get_running_loop()
                for _ in range(5):
                    # The blocking control request runs beside the loop,
                    # which goes on receiving.
                    await loop.run_in_executor(None, self.ctl.control, b"bump obs")
                    got.append((await asyncio.wait_for(notifications.__anext__(), 5)).payload)
                pr.observation.cancel()
                return got
            finally:
                await ctx.shutdown()
        got = asyncio.run(main())
        self.assertEqual(got, [b"v%d" % i for i in range(6)])


if __name__ == "__main__":
    unittest.main()
