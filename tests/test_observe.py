# Observe (RFC 7641), server side, through the private hooks: registration
# with coap._process, notifications taken with coap._transmit (capture mode:
# nothing is sent), the storage an observer holds (coap._storage), and a
# registration the heap refuses (coap._fail_storage). Runs without sockets:
# on the unix builds and in the qemu RV32 firmware.
import unittest

import coap
import helpers as h
from helpers import deinit_quiet


def observe_of(m):
    v = m.opt(h.OBSERVE)
    return None if v is None else h.to_uint(v)


def take():
    """The next datagram the module has to send, parsed, or None."""
    d = coap._transmit()
    return None if d is None else h.parse(d)


class Base(unittest.TestCase):
    def setUp(self):
        deinit_quiet()
        coap.init()
        self.r = coap.add_resource("obs", media_type=0, value="v0", etag=True, observable=True)
        self.r.callback(coap.REQUEST_GET | coap.REQUEST_PUT, True)
        self.assertIsNone(take())  # capture mode from here on

    def tearDown(self):
        deinit_quiet()

    def register(self, token, observe=0, addr=h.PEER):
        return h.ask(h.GET, "obs", token=token, options=[(h.OBSERVE, h.uint(observe))], addr=addr)


class TestObserve(Base):
    def test_observable_is_keyword_only_and_shows_in_discovery(self):
        plain = coap.add_resource("plain", value="p")
        plain.callback(coap.REQUEST_GET, True)
        doc = h.ask(h.GET, ".well-known/core").payload
        self.assertEqual(doc, b"</obs>;obs,</plain>")
        self.assertEqual(h.ask(h.GET, ".well-known/core", query=["obs"]).payload, b"</obs>;obs")
        self.assertRaises(TypeError, coap.add_resource, "x", 0, -1, "v", False, True)

    def test_registration_and_notifications(self):
        m = self.register(b"tk")
        self.assertEqual((m.code, m.payload), (h.C205, b"v0"))
        first = observe_of(m)
        self.assertTrue(first is not None, "the answer to a registration carries Observe")
        self.assertIsNone(take(), "nothing before a change")
        self.r.value("v1")
        n = take()
        self.assertEqual((n.type, n.code, n.token, n.payload), (h.CON, h.C205, b"tk", b"v1"))
        self.assertEqual(observe_of(n), first + 1)
        self.assertIsNone(take())
        # Acknowledged: the next one is NON; a remote PUT notifies too.
        self.assertIsNone(h.process(h.build(h.ACK, h.EMPTY, n.mid)))
        self.assertEqual(h.ask(h.PUT, "obs", payload=b"put", addr=h.PEER2).code, h.C204)
        n2 = take()
        self.assertEqual((n2.type, n2.payload, observe_of(n2)), (h.NON, b"put", first + 2))

    def test_rst_and_observe_1_end_it_and_storage_comes_back(self):
        base = coap._storage()
        self.register(b"a")
        self.register(b"b")
        self.assertTrue(coap._storage()[2] > base[2], "observers count against the remote budget")
        self.r.value("v1")
        na, nb = take(), take()
        self.assertEqual(sorted([na.token, nb.token]), [b"a", b"b"])
        self.assertIsNone(h.process(h.build(h.RST, h.EMPTY, na.mid)))
        m = self.register(nb.token, observe=1)
        self.assertEqual((m.code, observe_of(m)), (h.C205, None))
        self.r.value("v2")
        self.assertIsNone(take(), "notified after RST / Observe 1")
        self.assertEqual(coap._storage(), base)

    def test_removing_the_resource_sends_4_04(self):
        base = coap._storage()
        self.register(b"g")
        coap.remove_resource("obs")
        n = take()
        self.assertEqual((n.type, n.code, n.token, observe_of(n)), (h.NON, h.C404, b"g", None))
        self.assertIsNone(take())
        # The observer went with its 4.04, the resource with its blocks.
        after = coap._storage()
        self.assertEqual(after[2], 0)
        self.assertTrue(after[0] < base[0], (base, after))

    def test_a_refused_registration_is_a_plain_get(self):
        base = coap._storage()
        coap._fail_storage(1)
        m = self.register(b"no")
        self.assertEqual((m.code, m.payload, observe_of(m)), (h.C205, b"v0", None))
        self.assertEqual(coap._storage(), base)
        self.r.value("v1")
        self.assertIsNone(take())

    def test_deinit_with_observers(self):
        self.register(b"d")
        self.r.value("v1")
        coap.deinit()
        coap.init()
        self.assertEqual(coap._storage()[:3], (0, 0, 0))


if __name__ == "__main__":
    unittest.main()
