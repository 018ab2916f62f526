# The private hooks that the RV32 benchmark and stack measurement use
# (docs/internals.md, "Private hooks"): _transmit, _repeat, _stack. Runs
# without sockets, so on the qemu firmware too.
import unittest

import coap
import helpers as h
from helpers import deinit_quiet, raises

TOKEN = b"\x0a\x0b"
PEER = ("192.0.2.1", 5683)  # _process's and _repeat's peer when none is given


# _stack and _repeat measure only on a bare-metal stack (0 elsewhere).
PAINTED = coap._stack(len, b"") > 0


class Base(unittest.TestCase):
    def setUp(self):
        deinit_quiet()
        coap.init()
        self.got = []
        coap.register_response_handler(lambda *a: self.got.append(a))

    def tearDown(self):
        deinit_quiet()


class TestTransmit(Base):
    def test_nothing_due_is_none(self):
        self.assertIsNone(coap._transmit())

    def test_request_is_captured_not_sent_and_answered(self):
        coap._transmit()
        s = coap.new_client_session(PEER[0])
        mid = s.send_request(coap.REQUEST_GET, uri_path="a/b", token=TOKEN)
        req = h.parse(coap._transmit())
        self.assertEqual((req.type, req.code, req.mid, req.token), (h.CON, h.GET, mid, TOKEN))
        self.assertEqual(req.opts(h.URI_PATH), [b"a", b"b"])
        self.assertIsNone(coap._transmit())
        resp = h.build(h.ACK, h.C205, mid, token=TOKEN, payload=b"ok")
        self.assertIsNone(coap._process(resp))
        self.assertEqual(self.got, [(h.C205, mid, h.ACK, TOKEN, b"ok")])

    def test_not_initialised(self):
        coap.deinit()
        raises(self, RuntimeError, coap._transmit)


class TestRepeat(Base):
    def test_each_round_is_a_new_request(self):
        r = coap.add_resource("e", value=b"0", etag=True)
        r.callback(coap.REQUEST_GET | coap.REQUEST_PUT, True)
        etag = h.ask(h.GET, "e").opt(h.ETAG)
        put = h.request(h.PUT, "e", mid=0x700, token=TOKEN, payload=b"1")
        used = coap._repeat(5, put)
        self.assertTrue(used > 0 or not PAINTED, used)
        self.assertEqual(r.value(), b"1")
        # Five PUTs applied, none taken for a duplicate: the ETag moved by 5.
        self.assertEqual(h.to_uint(h.ask(h.GET, "e").opt(h.ETAG)), h.to_uint(etag) + 5)

    def test_client_rounds_complete(self):
        s = coap.new_client_session(PEER[0])
        resp = h.build(h.ACK, h.C205, 0, token=TOKEN, payload=b"ok")
        before = h.storage()
        coap._repeat(20, resp, s)
        # Every request got its response and gave its storage back.
        self.assertEqual(h.storage(), before)
        coap._transmit()
        s.send_request(coap.REQUEST_GET, token=TOKEN)
        self.assertIsNotNone(coap._transmit())
        self.assertEqual(self.got, [])  # _repeat drops events

    def test_bad_arguments(self):
        raises(self, ValueError, coap._repeat, 1, b"\x40")
        raises(self, ValueError, coap._repeat, 1, b"\x48\x01\x00\x01")  # token cut short
        raises(self, TypeError, coap._repeat, 1, h.request(h.GET, "x"), "session")
        coap.deinit()
        raises(self, RuntimeError, coap._repeat, 1, h.request(h.GET, "x"))


class TestStack(Base):
    def test_measures_a_call(self):
        if not PAINTED:
            self.skipTest("the stack is not painted on this port (hosted OS)")
        small = coap._stack(len, b"")
        deeper = coap._stack(lambda: coap._process(h.request(h.GET, ".well-known/core")))
        self.assertTrue(0 < small < deeper, (small, deeper))

    def test_passes_exceptions_through(self):
        raises(self, ZeroDivisionError, coap._stack, lambda: 1 // 0)


if __name__ == "__main__":
    unittest.main()
