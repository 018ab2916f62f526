"""Observe (RFC 7641): the ETSI CoAP#4 plugtest scenarios TD_COAP_OBS_01, 02,
05, 06, 07, 09, 10, 11 and 12 (issue 13), one named test each (a few have a
second test for the module in the client role), and the module's client
against aiocoap's observable resources.

Source of the test descriptions (TDs): the CoAP#4 plugtest TDs as published
in YAML by Carsten Bormann, repository cabo/td-coap4, file block.yml
(commit 0b2292ceebd66aac2d425838b74ba53a6378a7c5, 2014-03-09), keys
TD_COAP_OBS_01 ... TD_COAP_OBS_12. The same texts, as pcap verdict code, are
in fsismondi/ttproto, ttproto/tat_coap/testcases/td_coap_obs_0N.py (01, 02,
05, 06, 07, 09, 10) and ttproto/tat_coap/testcases/TODO (12; 11 is a TODO
there). Every test's docstring says what its TD checks.

Roles. Where the TD's checks are on the server, the module is the server (a
MicroPython script, SERVER below) and the stimulus is raw CPython datagrams
(tests/cpython/support.py's build/parse); the wire is checked as the TD's
"check" steps say. Where they are on the client (it registers, acknowledges,
rejects, deregisters), the module is the client (tests/interop/mp_observer.py)
against a stub server on a raw UDP socket in the test.

Where this file departs from a TD's text, and why:
- Message type of notifications. The TDs' precondition is a resource "which
  produces confirmable notifications", and their loops check Type = CON.
  The module has no such resource: it follows RFC 7641 section 4.5 (the
  server chooses): CON while it has no round-trip estimate for the client,
  then NON, with a CON again after OBSERVE_NON_MAX (5) NON ones in a row
  (docs/api.md "Observe"). The tests check that policy exactly instead of
  CON everywhere; everything else in the loops (2.05, Content-Format = f,
  token = t, Observe increasing) is checked as written.
- TD_COAP_OBS_07 step 8 wants the 4.04 notification CON; the module sends
  it NON (docs/api.md: "the observer first gets a NON 4.04"). RFC 7641
  sections 3.2/4.2 do not fix the type. The test checks NON and says so.
- TD_COAP_OBS_05 "switched off" and TD_COAP_OBS_11 wait on retransmission
  timers: the server shortens ACK_TIMEOUT with coap._set_ack_timeout
  (docs/internals.md), so the whole back-off scales with it.

The module's client observing aiocoap's large /big-obs missed every other
state while its block-fetch GETs repeated Observe 0 (aiocoap then restarts
its numbering); they are plain GETs on a fetch token now, see
test_module_observes_large_aiocoap_resource_whole.

SERVER's /ctl resource takes commands between read() calls: "bump URI" (the
application stores the next value "vN"), "tick URI N MS" (N more changes of
URI, MS apart), "storage" (prints coap._storage()).
"""

import json
import os
import socket
import sys
import threading
import time
import unittest

import os as _os, sys as _sys
_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))), "cpython"))
import support as s  # noqa: E402  (tests/cpython/support.py)

OBSERVE = 6
NON_MAX = 5          # OBSERVE_NON_MAX (src/capacity.rs)
MAX_RETRANSMIT = 4   # RFC 7252
C202, C404 = s.code(2, 2), s.code(4, 4)
MP_OBSERVER = os.path.join(s.INTEROP, "mp_observer.py")

SERVER = r'''
import sys, time
import coap

port, ack = int(sys.argv[1]), int(sys.argv[2])
coap.init("127.0.0.1", port=port)
if ack:
    coap._set_ack_timeout(ack)
ctl = coap.add_resource("ctl", value=b".")
ctl.callback(coap.REQUEST_PUT, True)
res, count = {}, {}
for uri in ("obs", "obs-non"):
    res[uri] = coap.add_resource(uri, media_type=0, value=b"v0", observable=True)
    res[uri].callback(coap.REQUEST_GET | coap.REQUEST_PUT | coap.REQUEST_DELETE, True)
    count[uri] = 0

def bump(uri):
    count[uri] += 1
    res[uri].value(b"v%d" % count[uri])

tick_uri, ticks, every, last = None, 0, 0, time.ticks_ms()
print("READY", port)
while True:
    coap.read(10)
    cmd = ctl.value()
    if cmd != b".":
        ctl.value(b".")
        word, _, arg = cmd.decode().partition(" ")
        if word == "bump":
            bump(arg)
        elif word == "tick":
            tick_uri, n, ms = arg.split()
            ticks, every, last = int(n), int(ms), time.ticks_ms()
        elif word == "storage":
            print("STORAGE", coap._storage())
    if ticks and time.ticks_diff(time.ticks_ms(), last) >= every:
        last = time.ticks_ms()
        ticks -= 1
        bump(tick_uri)
        if not ticks:
            print("TICKED", count[tick_uri])
'''


def observe_of(m):
    v = s.option(m, OBSERVE)
    return None if v is None else int.from_bytes(v, "big")


def short_timers(ms):
    """The server of this test runs with ACK_TIMEOUT = ms."""
    def mark(f):
        f.ack_ms = ms
        return f
    return mark


def tname(t):
    return {s.CON: "CON", s.NON: "NON", s.ACK: "ACK", s.RST: "RST"}[t]


class EtsiServer(s.RawClientCase):
    """The module is the server (SERVER); self.sock is the TD's client."""

    ACK_MS = 0  # 0: the shipped ACK_TIMEOUT

    def setUp(self):
        self.port = s.free_port()
        # A test's own ack_ms attribute (short_timers) or the class's.
        ack_ms = getattr(getattr(self, self._testMethodName), "ack_ms", self.ACK_MS)
        self.mp = s.start_mp(self, s.write_script(self, SERVER), [self.port, ack_ms])
        if self.mp.wait_line("READY", 15) is None:
            self.fail_with("server did not start", self.mp)
        self.open_raw((s.HOST, self.port), 0x2000)
        self.other = s.Client(self.server, seed=13)  # "another CoAP client", and /ctl
        self.addCleanup(self.other.close)

    def ack(self, m):
        self.send(s.ACK, 0, mid=m["mid"])

    def storage(self):
        self.other.control(b"storage")
        line = self.mp.wait_line("STORAGE", 5)
        self.assertIsNotNone(line, self.mp.output())
        return eval(line.split(" ", 1)[1])  # (blocks, bytes, remote bytes, budget)

    def register(self, t, path="obs", mtype=s.CON):
        """TD steps 1-3: the GET with an empty Observe option (0), and the
        server's answer: 2.05, Content-format f, token t, an Observe number.
        Returns (f, Observe number)."""
        mid = self.send(mtype, s.GET, path, t, [(OBSERVE, 0)])
        a = self.recv()
        self.assertIsNotNone(a, "no answer to the registration")
        if mtype == s.CON:
            self.assertEqual((tname(a["type"]), a["mid"]), ("ACK", mid), "step 3: Type = 2 (ACK)")
        else:
            self.assertEqual(tname(a["type"]), "NON", "the answer to a NON request")
        self.assertEqual((a["code"], a["token"]), (s.C205, t), "step 3: 2.05, token t")
        f = s.option(a, s.CONTENT_FORMAT)
        self.assertIsNotNone(f, "step 3: Content-format of the resource")
        n = observe_of(a)
        self.assertIsNotNone(n, "step 3: Observe option with a sequence number")
        return f, n

    def notification(self, t, f, last, payload=None, timeout=2.0, ack=True):
        """TD step 4: a notification: 2.05, Content-format f, token t, an
        Observe number newer than `last` (mod 2**24); a CON one is ACKed
        (step 5). Returns it."""
        n = self.recv(timeout)
        self.assertIsNotNone(n, "step 4: no notification")
        self.assertIn(n["type"], (s.CON, s.NON), n)
        self.assertEqual((n["code"], n["token"]), (s.C205, t), "step 4: 2.05, token t: %r" % n)
        self.assertEqual(s.option(n, s.CONTENT_FORMAT), f, "step 4: Content-format = f")
        v = observe_of(n)
        self.assertIsNotNone(v, "step 4: Observe option")
        self.assertTrue(0 < (v - last) % (1 << 24) < (1 << 23), "step 4: Observe %d not newer than %d" % (v, last))
        if payload is not None:
            self.assertEqual(n["payload"], payload)
        if ack and n["type"] == s.CON:
            self.ack(n)
        return n

    def changes(self, t, f, last, k, path="obs"):
        """k changes of `path`, each notified (steps 4-6 in a loop); returns
        (types, last Observe number)."""
        types = []
        for _ in range(k):
            self.other.control(b"bump " + path.encode())
            n = self.notification(t, f, last)
            last = observe_of(n)
            types.append(tname(n["type"]))
        return types, last


class TestEtsiObserveServer(EtsiServer):
    def test_TD_COAP_OBS_01_handle_observation_with_CON_messages(self):
        """TD_COAP_OBS_01 (block.yml): CON GET with Observe = empty and token
        t (step 2); ACK 2.05, Content-format f, token t, Observe number
        (step 3); repeatedly a notification: 2.05, f, t, Observe increasing
        (step 4), ACKed by the client (step 5). Type: the module's RFC 7641
        section 4.5 policy (see the module docstring), i.e. CON first, NON
        once the ACK gave a round trip, CON again after 5 NON."""
        t = b"\x0b\x01"
        f, last = self.register(t)
        types, last = self.changes(t, f, last, 1 + NON_MAX + 1)
        self.assertEqual(types, ["CON"] + ["NON"] * NON_MAX + ["CON"])
        self.assertIsNone(self.recv(0.3), "one notification per change")

    def test_TD_COAP_OBS_02_handle_observation_with_NON_messages(self):
        """TD_COAP_OBS_02: NON GET with Observe = empty, token t, on /obs-non
        (step 2); repeatedly a notification: 2.05, the same Content-format,
        token t, Observe increasing (step 3). The TD's notes allow the
        server an occasional CON, to be ACKed: the module's first one is CON
        (no round-trip estimate yet), the rest NON."""
        t = b"\x0b\x02"
        f, last = self.register(t, "obs-non", s.NON)
        types, last = self.changes(t, f, last, 4, "obs-non")
        self.assertEqual(types, ["CON", "NON", "NON", "NON"])

    @short_timers(100)
    def test_TD_COAP_OBS_05_server_detects_client_off(self):
        """TD_COAP_OBS_05: the client observes, ACKs a notification, then is
        switched off: the server's CON notifications are not acknowledged;
        its retransmissions carry an updated Observe value (the resource
        changes meanwhile); it may retransmit for a while but stops after a
        final timeout. Here ACK_TIMEOUT is 100 ms and /obs changes every
        50 ms: after the NON ones, one CON and its MAX_RETRANSMIT (4)
        retransmissions, each with a new Message ID and a newer Observe
        number and a doubling interval, then nothing, and the observer's
        storage is given back."""
        before = self.storage()[2]
        t = b"\x0b\x05"
        f, last = self.register(t)
        self.changes(t, f, last, 1)
        self.assertGreater(self.storage()[2], before)
        # Switched off: nothing is acknowledged any more.
        self.other.control(b"tick obs 400 50")
        got = []
        while True:
            # Silence longer than the last back-off interval (16 x 100-150 ms)
            # after which the server gives up.
            n = self.recv(3.0)
            if n is None:
                break
            got.append((time.monotonic(), n))
            self.assertLess(len(got), 200, "never stops")
        cons = [i for i, (_, n) in enumerate(got) if n["type"] == s.CON]
        self.assertTrue(cons, "no CON notification: %r" % got)
        tail = got[cons[0]:]
        self.assertEqual([tname(n["type"]) for _, n in tail], ["CON"] * (1 + MAX_RETRANSMIT),
                         "after the first unacknowledged CON: its retransmissions only")
        obs = [observe_of(n) for _, n in tail]
        self.assertEqual(obs, sorted(set(obs)), "retransmissions have an updated Observe value: %r" % obs)
        self.assertEqual(len({n["mid"] for _, n in tail}), len(tail))
        self.assertTrue(all(n["token"] == t and n["code"] == s.C205 for _, n in tail))
        gaps = [b[0] - a[0] for a, b in zip(tail, tail[1:])]
        self.assertTrue(all(g2 > 1.5 * g1 for g1, g2 in zip(gaps, gaps[1:])), "back-off: %r" % gaps)
        self.assertFalse(any(l.startswith("TICKED") for l in self.mp.lines), "/obs stopped changing")
        self.assertEqual(self.storage()[2], before, "the observer is gone")

    def test_TD_COAP_OBS_06_server_detects_explicit_RST(self):
        """TD_COAP_OBS_06: the client observes and ACKs a notification, then
        is rebooted: the server still notifies (step 8, as in step 4); the
        client sends RST (step 10); the server sends no further response
        (step 11), and (here) gives the observer's storage back."""
        before = self.storage()[2]
        t = b"\x0b\x06"
        f, last = self.register(t)
        self.changes(t, f, last, 1)
        self.other.control(b"bump obs")
        n = self.notification(t, f, last, ack=False)  # step 8, to the rebooted client
        self.send(s.RST, 0, mid=n["mid"])
        for _ in range(3):
            self.other.control(b"bump obs")
        self.assertIsNone(self.recv(0.6), "a notification after the RST")
        self.assertEqual(self.storage()[2], before)

    def test_TD_COAP_OBS_07_server_cleans_observers_on_DELETE(self):
        """TD_COAP_OBS_07: the client observes and ACKs a notification;
        another client DELETEs /obs; the server sends the observer a 4.04
        with token t and no Observe option (step 8); no further notification
        (step 9). Step 8's Type = 0 (CON): the module sends NON (documented,
        RFC 7641 leaves the type to the server); checked as NON."""
        t = b"\x0b\x07"
        f, last = self.register(t)
        self.changes(t, f, last, 1)
        d = self.other.request(s.DELETE, "obs")
        self.assertEqual(d["code"], C202, "the DELETE: 2.02 Deleted")
        n = self.recv()
        self.assertIsNotNone(n, "step 8: no 4.04 to the observer")
        self.assertEqual((n["code"], n["token"], observe_of(n)), (C404, t, None),
                         "step 8: 4.04, token t, no Observe option any more")
        self.assertEqual(tname(n["type"]), "NON", "module: the 4.04 is NON (the TD says CON)")
        self.assertIsNone(self.recv(1.0), "step 9: a further notification")
        self.assertEqual(self.other.request(s.GET, "obs")["code"], C404)

    def test_TD_COAP_OBS_09_update_of_observed_resource(self):
        """TD_COAP_OBS_09: the client observes and ACKs a notification; another
        client PUTs a new payload with the same Content-Format (step 7); the
        notification (step 8): 2.05, Content-format f, token t, Observe
        increasing, payload = the new value; ACKed if CON (step 10). Twice
        (steps 8-10 loop)."""
        t = b"\x0b\x09"
        f, last = self.register(t)
        _, last = self.changes(t, f, last, 1)
        for value in (b"new value 1", b"new value 2"):
            r = self.other.request(s.PUT, "obs", payload=value, options=[(s.CONTENT_FORMAT, 0)])
            self.assertEqual(r["code"], s.C204)
            n = self.notification(t, f, last, payload=value)
            last = observe_of(n)
        self.assertIsNone(self.recv(0.3))

    def test_TD_COAP_OBS_10_GET_does_not_cancel_observation(self):
        """TD_COAP_OBS_10: the client observes (token t) and ACKs a
        notification; then a CON GET without Observe, token t2 != t (step 8);
        the answer: ACK 2.05, Content-format f, token t2, no Observe
        (step 9); notifications still arrive with token t, f, Observe
        increasing (step 10), none with t2."""
        t, t2 = b"\x0b\x10", b"\x0b\x11"
        f, last = self.register(t)
        _, last = self.changes(t, f, last, 1)
        mid = self.send(s.CON, s.GET, "obs", t2)
        a = self.recv()
        self.assertIsNotNone(a)
        self.assertEqual((tname(a["type"]), a["mid"], a["code"], a["token"]), ("ACK", mid, s.C205, t2))
        self.assertEqual(s.option(a, s.CONTENT_FORMAT), f)
        self.assertIsNone(observe_of(a), "step 9: *No* Observe option")
        types, last = self.changes(t, f, last, 3)
        self.assertIsNone(self.recv(0.3), "one notification per change, none for t2")

    def test_TD_COAP_OBS_12_GET_with_Observe_1_cancels(self):
        """TD_COAP_OBS_12: the client observes (token t) and ACKs a
        notification; then a CON GET with Observe = 1 and token t (step 8);
        the answer: ACK 2.05, Content-format f, token t, no Observe (step 9);
        no further notifications (step 10); here also: the observer's
        storage is given back."""
        before = self.storage()[2]
        t = b"\x0b\x12"
        f, last = self.register(t)
        self.changes(t, f, last, 1)
        mid = self.send(s.CON, s.GET, "obs", t, [(OBSERVE, 1)])
        a = self.recv()
        self.assertIsNotNone(a)
        self.assertEqual((tname(a["type"]), a["mid"], a["code"], a["token"]), ("ACK", mid, s.C205, t))
        self.assertEqual(s.option(a, s.CONTENT_FORMAT), f)
        self.assertIsNone(observe_of(a), "step 9: *No* Observe option")
        for _ in range(3):
            self.other.control(b"bump obs")
        self.assertIsNone(self.recv(0.6), "step 10: a notification after the cancel")
        self.assertEqual(self.storage()[2], before)


# ---- TD_COAP_OBS_11: through the lossy relay of the stress suite -------------

class Tap(threading.Thread):
    """A transparent UDP hop in front of the module's server that logs every
    datagram: what the server really sent (before the relay drops any) and
    what really reached it. log: (time, "s2c" or "c2s", parsed message)."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind((s.HOST, 0))
        self.port = self.front.getsockname()[1]
        self.up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.up.bind((s.HOST, 0))
        self.peer = None
        self.log = []
        self.stopped = False

    def run(self):
        import select
        while not self.stopped:
            r, _, _ = select.select([self.front, self.up], [], [], 0.1)
            for sock in r:
                data, addr = sock.recvfrom(65535)
                if sock is self.front:
                    self.peer = addr
                    self.log.append((time.monotonic(), "c2s", s.parse(data)))
                    self.up.sendto(data, self.server)
                elif self.peer:
                    self.log.append((time.monotonic(), "s2c", s.parse(data)))
                    self.front.sendto(data, self.peer)

    def stop(self):
        self.stopped = True
        self.join(2)
        self.front.close()
        self.up.close()


class TestEtsiObserveLossy(EtsiServer):
    ACK_MS = 100
    CHANGES = 60

    def test_TD_COAP_OBS_11_CON_observation_lossy(self):
        """TD_COAP_OBS_11 (cfg CoAP_CFG_LOSSY): TD_COAP_OBS_01's sequence
        over a lossy link, and: "even if the delivery of notifications takes
        some time due to retransmissions, there are never multiple
        notifications active at one time". The client here reaches the
        server through tests/stress/relay.py (25% loss each way, 10%
        duplicates, cap 3) and a tap that logs what the server sends and
        receives; ACK_TIMEOUT is 100 ms and /obs changes 60 times, every
        100 ms, so CON notifications get lost, retransmitted and replaced. Checked: the registration succeeds; on the server's side,
        while a CON notification is unacknowledged, nothing else is sent to
        the client but its retransmission or one replacement (a new Message
        ID, after which the old one never appears again), and no NON; every
        notification the client gets is 2.05, f, t, newer Observe, and the
        newest it gets carries the final value (eventual consistency); the
        observation survives; the relay did drop datagrams both ways."""
        tap = Tap(self.server)
        tap.start()
        self.addCleanup(tap.stop)
        relay = s.Proc([sys.executable, os.path.join(s.STRESS, "relay.py"), str(tap.port),
                        "--seed", os.environ.get("STRESS_SEED", "7641"), "--loss", "0.25",
                        "--dup", "0.1", "--cap", "3"])
        self.addCleanup(relay.stop)
        front = int(relay.expect("ready", 10).split()[1])
        self.server = (s.HOST, front)  # the client's datagrams go through the relay
        before = self.storage()[2]
        t = b"\x0b\x11\x11"
        mid = None
        for _ in range(8):  # the registration, retransmitted until answered
            mid = self.send(s.CON, s.GET, "obs", t, [(OBSERVE, 0)], mid=mid)
            a = self.recv(0.5)
            if a is not None and a["mid"] == mid:
                break
        self.assertIsNotNone(a, "the registration was never answered")
        self.assertEqual((a["type"], a["code"], a["token"]), (s.ACK, s.C205, t))
        f, last = s.option(a, s.CONTENT_FORMAT), observe_of(a)
        self.assertIsNotNone(last)
        self.other.control(b"tick obs %d 100" % self.CHANGES)
        newest = (last, a["payload"])
        seen = []
        end = time.monotonic() + 15
        quiet_since = None
        while time.monotonic() < end:
            n = self.recv(0.2)
            if n is None:
                if newest[1] == b"v%d" % self.CHANGES:
                    quiet_since = quiet_since or time.monotonic()
                    if time.monotonic() - quiet_since > 1.0:
                        break
                continue
            quiet_since = None
            self.assertIn(n["type"], (s.CON, s.NON))
            self.assertEqual((n["code"], n["token"], s.option(n, s.CONTENT_FORMAT)), (s.C205, t, f))
            if n["type"] == s.CON:
                self.ack(n)  # duplicates and retransmissions too
            v = observe_of(n)
            self.assertIsNotNone(v)
            seen.append((v, n["payload"]))
            if 0 < (v - newest[0]) % (1 << 24) < (1 << 23):
                newest = (v, n["payload"])
        self.assertEqual(newest[1], b"v%d" % self.CHANGES, "the final state never arrived: %r" % seen[-5:])
        # Values grow with Observe numbers.
        by_obs = sorted(set(seen))
        vals = [int(p[1:]) for _, p in by_obs]
        self.assertEqual(vals, sorted(vals), by_obs)
        time.sleep(0.3)
        # The server's side: never two notifications active at once.
        active, dead, cons, acked = None, set(), 0, 0
        for _, d, m in list(tap.log):
            if m is None:
                continue
            if d == "c2s":
                if m["type"] == s.ACK and m["mid"] == active:
                    active, acked = None, acked + 1
                continue
            if m["token"] != t or m["type"] not in (s.CON, s.NON) or m["code"] != s.C205:
                continue
            self.assertNotIn(m["mid"], dead, "a replaced notification was sent again")
            if active is not None:
                self.assertEqual(m["type"], s.CON, "a NON while a CON notification is active")
                if m["mid"] != active:
                    dead.add(active)
                    active = m["mid"]
            elif m["type"] == s.CON:
                active, cons = m["mid"], cons + 1
        self.assertGreater(cons, 1, "no CON notifications at all")
        self.assertTrue(dead, "no CON notification was replaced: the check above had nothing to bite on")
        self.assertGreater(self.storage()[2], before, "the observation did not survive")
        relay.p.terminate()
        stats = json.loads(relay.expect("STATS", 10).split(" ", 1)[1])
        print("\nOBS_11: %d notifications received, %d CON chains (%d acked, %d replaced); relay %s"
              % (len(seen), cons, acked, len(dead), json.dumps(stats)), file=sys.stderr)
        self.assertGreater(stats["dropped_to_server"], 0)
        self.assertGreater(stats["dropped_to_client"], 0)


# ---- the module as the client --------------------------------------------------

class Resp:
    def __init__(self, line):
        _, code, mid, mtype, tok, pl = line.split(" ")
        self.code, self.mid, self.type = int(code), int(mid), int(mtype)
        self.token = b"" if tok == "-" else bytes.fromhex(tok)
        self.payload = b"" if pl == "-" else bytes.fromhex(pl)

    def __repr__(self):
        return "Resp(%d.%02d t=%d tok=%r %r)" % (self.code >> 5, self.code & 31, self.type, self.token, self.payload)


def start_observer(tc, port, uri="obs", token=None, cancel_after=None, wait_ms=8000, linger_ms=1000,
                   bind_port=None):
    spec = {"host": s.HOST, "port": port, "uri": uri, "cancel_after": cancel_after,
            "wait_ms": wait_ms, "linger_ms": linger_ms, "bind_port": bind_port,
            "token_hex": None if token is None else token.hex()}
    p = s.start_mp(tc, MP_OBSERVER, [s.write_script(tc, json.dumps(spec))])
    if p.wait_line("READY", 15) is None:
        tc.fail_with("observer did not start", p)
    return p


def results(tc, p, timeout=20):
    """(RESP lines before the cancel, after it, the whole output)."""
    if p.wait_exit(timeout) != 0:
        tc.fail_with("observer script failed", p)
    out = p.output()
    before, after, cancelled = [], [], False
    for line in out.splitlines():
        if line.startswith("CANCEL "):
            cancelled = True
        elif line.startswith("RESP "):
            (after if cancelled else before).append(Resp(line))
    return before, after, out


class Stub:
    """The TD's server, on a raw socket: the test sends its notifications
    and reads what the module sends."""

    def __init__(self, tc):
        self.tc = tc
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((s.HOST, 0))
        tc.addCleanup(self.sock.close)
        self.port = self.sock.getsockname()[1]
        self.peer = None
        self.mid = 0x5000

    def recv(self, timeout=2.0):
        self.sock.settimeout(timeout)
        try:
            data, addr = self.sock.recvfrom(4096)
        except socket.timeout:
            return None
        self.peer = addr
        return s.parse(data)

    def send(self, mtype, mcode, token=b"", options=(), payload=b"", mid=None):
        if mid is None:
            self.mid += 1
            mid = self.mid
        self.sock.sendto(s.build(mtype, mcode, mid, token, list(options), payload), self.peer)
        return mid

    def notify(self, mtype, t, obs, payload):
        return self.send(mtype, s.C205, t, [(OBSERVE, obs), (s.CONTENT_FORMAT, 0)], payload)

    def expect(self, mtype, mid, what):
        m = self.recv()
        self.tc.assertIsNotNone(m, what + ": nothing from the module")
        self.tc.assertEqual((tname(m["type"]), m["mid"], m["code"]), (tname(mtype), mid, 0), what)
        return m

    def registration(self, path="obs"):
        """TD step 2: the module's request: CON GET, Uri-Path, a token,
        Observe = empty (0)."""
        m = self.recv(10)
        self.tc.assertIsNotNone(m, "no registration from the module")
        self.tc.assertEqual((tname(m["type"]), m["code"]), ("CON", s.GET), "step 2: Type = CON, Code = GET")
        self.tc.assertEqual(s.option(m, OBSERVE), b"", "step 2: Observe option = empty")
        self.tc.assertEqual([v for n, v in m["options"] if n == s.URI_PATH], [path.encode()])
        return m


class TestEtsiObserveClient(s.MPTestCase):
    def test_TD_COAP_OBS_01_module_client_registers_and_acks(self):
        """TD_COAP_OBS_01, the client's checks: the module sends CON GET with
        Observe = empty and its token (step 2), reports the answer (step 4:
        "displays"), ACKs every CON notification (step 5) and reports each
        fresh one in order (step 6). Also RFC 7641 section 3.4: a stale one
        (an older Observe number) is ACKed but not reported; a NON one is
        reported and not ACKed."""
        stub = Stub(self)
        p = start_observer(self, stub.port, token=b"etsi01", cancel_after=None, linger_ms=2500)
        reg = stub.registration()
        t = reg["token"]
        self.assertEqual(t, b"etsi01")
        stub.send(s.ACK, s.C205, t, [(OBSERVE, 7), (s.CONTENT_FORMAT, 0)], b"n7", mid=reg["mid"])
        stub.expect(s.ACK, stub.notify(s.CON, t, 8, b"n8"), "step 5: the ACK of a CON notification")
        stub.notify(s.NON, t, 9, b"n9")
        stub.expect(s.ACK, stub.notify(s.CON, t, 5, b"stale"), "a stale CON notification is ACKed")
        stub.expect(s.ACK, stub.notify(s.CON, t, 10, b"n10"), "step 5")
        self.assertIsNone(stub.recv(0.3), "nothing else from the module")
        before, after, out = results(self, p)
        self.assertEqual([(r.code, r.token, r.payload) for r in before],
                         [(s.C205, t, b"n7"), (s.C205, t, b"n8"), (s.C205, t, b"n9"), (s.C205, t, b"n10")], out)

    def test_TD_COAP_OBS_06_module_client_rebooted_sends_RST(self):
        """TD_COAP_OBS_06, the client's checks: after the client (the module,
        on a fixed port) is rebooted, the server's notifications for the old
        registration are discarded, not displayed (step 9), and answered
        with RST (step 10) - CON and NON ones alike (RFC 7641 section 3.6)."""
        stub = Stub(self)
        port = s.free_port()
        first = start_observer(self, stub.port, token=b"etsi06", linger_ms=30000, bind_port=port)
        reg = stub.registration()
        t = reg["token"]
        stub.send(s.ACK, s.C205, t, [(OBSERVE, 1), (s.CONTENT_FORMAT, 0)], b"a1", mid=reg["mid"])
        stub.expect(s.ACK, stub.notify(s.CON, t, 2, b"a2"), "step 5")
        first.stop()  # reboot
        second = start_observer(self, stub.port, uri=None, linger_ms=2000, bind_port=port)
        stub.expect(s.RST, stub.notify(s.CON, t, 3, b"a3"), "step 10: RST to a CON notification")
        stub.expect(s.RST, stub.notify(s.NON, t, 4, b"a4"), "RST to a NON notification")
        before, after, out = results(self, second)
        self.assertEqual(before + after, [], "step 9: the rebooted client displayed a notification")

    def test_TD_COAP_OBS_12_module_client_cancels_with_Observe_1(self):
        """TD_COAP_OBS_12, the client's checks: session.cancel_observe(t)
        sends CON GET with Observe = 1 and token t (step 8); the server's
        answer (ACK 2.05 without Observe, step 9) is not reported as a
        notification, and no notification after it is displayed (step 11):
        late ones get RST (RFC 7641 section 3.6). cancel_observe returns
        True, and False for an observation already cancelled."""
        stub = Stub(self)
        p = start_observer(self, stub.port, token=b"etsi12", cancel_after=3, linger_ms=2500)
        reg = stub.registration()
        t = reg["token"]
        stub.send(s.ACK, s.C205, t, [(OBSERVE, 1), (s.CONTENT_FORMAT, 0)], b"c1", mid=reg["mid"])
        stub.expect(s.ACK, stub.notify(s.CON, t, 2, b"c2"), "step 5")
        stub.notify(s.NON, t, 3, b"c3")
        m = stub.recv(5)
        self.assertIsNotNone(m, "no deregistration")
        self.assertEqual((tname(m["type"]), m["code"], m["token"]), ("CON", s.GET, t), "step 8: CON GET, token t")
        self.assertEqual(observe_of(m), 1, "step 8: Observe option = 1")
        self.assertEqual([v for n, v in m["options"] if n == s.URI_PATH], [b"obs"])
        stub.send(s.ACK, s.C205, t, [(s.CONTENT_FORMAT, 0)], b"final", mid=m["mid"])
        stub.expect(s.RST, stub.notify(s.CON, t, 4, b"late4"), "a late CON notification gets RST")
        stub.expect(s.RST, stub.notify(s.NON, t, 5, b"late5"), "a late NON notification gets RST")
        before, after, out = results(self, p)
        self.assertEqual([r.payload for r in before], [b"c1", b"c2", b"c3"], out)
        self.assertEqual(after, [], "step 11: displayed after the cancel")
        self.assertIn("CANCEL True", out)
        self.assertIn("CANCEL_AGAIN False", out)


# ---- the module's client against aiocoap's observable resources ---------------

sys.path.insert(0, s.INTEROP)
try:
    import aiocoap  # noqa: F401
    from aiocoap_server import big_value, BIG_LEN
except ImportError:  # pragma: no cover
    aiocoap = None


@unittest.skipIf(aiocoap is None, "aiocoap not installed")
class TestObserveAiocoapServer(s.MPTestCase):
    def setUp(self):
        self.port = s.free_port()
        self.srv = s.Proc([sys.executable, os.path.join(s.INTEROP, "aiocoap_server.py"), str(self.port)])
        self.addCleanup(self.srv.stop)
        if self.srv.wait_line("READY", 15) is None:
            self.fail("aiocoap server did not start:\n" + self.srv.output())

    def test_module_observes_aiocoap_counter_then_cancels(self):
        """/counter changes every 300 ms: the module gets the answer and at
        least 3 notifications, in order, cancels, and then gets none (1.5 s
        more, 5 changes' worth)."""
        p = start_observer(self, self.port, uri="counter", cancel_after=4, linger_ms=1500)
        before, after, out = results(self, p)
        vals = [int(r.payload) for r in before]
        self.assertGreaterEqual(len(vals), 4, out)
        self.assertEqual(vals, sorted(set(vals)), out)
        self.assertTrue(all(r.code == s.C205 for r in before), out)
        self.assertEqual(after, [], "reported after cancel_observe:\n" + out)
        self.assertIn("CANCEL True", out)

    def test_module_observes_large_aiocoap_resource_whole(self):
        """/big-obs (3000 bytes, its notifications the first 1024-byte block
        with Block2 M=1) changes every 500 ms: every report the module makes
        is the whole value of one state (the module fetched the other
        blocks), and no state is missed: each fetch takes milliseconds.

        Failed at 8d29a76: the module's Block2 fetch GETs repeated Observe
        0; aiocoap took each as a re-registration on the token and
        restarted its Observe numbers, so the next notification carried a
        number no newer than the last one reported, and the module dropped
        it as stale (RFC 7641 3.4). With plain GETs on the same token,
        aiocoap ended the observation instead. Fixed: plain GETs on a
        fetch token (the observation's with its first byte flipped)."""
        p = start_observer(self, self.port, uri="big-obs", cancel_after=4, linger_ms=1200, wait_ms=6000)
        before, after, out = results(self, p)
        ns = []
        for r in before:
            self.assertEqual(r.code, s.C205)
            self.assertEqual(len(r.payload), BIG_LEN, "not whole: %d bytes" % len(r.payload))
            n = int(r.payload[:6])
            self.assertEqual(r.payload, big_value(n), "state %d mixed with another" % n)
            ns.append(n)
        self.assertEqual(after, [], out)
        self.assertEqual(ns, sorted(set(ns)), ns)
        self.assertGreaterEqual(len(ns), 4, "states reported: %r" % ns)
        self.assertEqual(ns, list(range(ns[0], ns[0] + len(ns))), "states missed: %r" % ns)


if __name__ == "__main__":
    unittest.main()
