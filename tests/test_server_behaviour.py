# Server behaviour (contract "Server behaviour"), driven through
# coap._process() so it runs on ports without sockets too.
import unittest

import coap
import helpers as h
from helpers import deinit_quiet, ask, raises


class Base(unittest.TestCase):
    def setUp(self):
        deinit_quiet()
        coap.init()

    def tearDown(self):
        deinit_quiet()

    def res(self, uri="r", methods=h.ALL_METHODS, **kw):
        r = coap.add_resource(uri, **kw)
        r.callback(methods, True)
        return r


class TestProcessHook(Base):
    def test_returns_bytes_reply(self):
        self.res(value="x")
        reply = coap._process(h.request(h.GET, "r", mid=7), h.PEER)
        self.assertTrue(isinstance(reply, (bytes, bytearray)))
        m = h.parse(reply)
        self.assertEqual((m.type, m.code, m.mid, m.payload), (h.ACK, h.C205, 7, b"x"))

    def test_no_reply_is_none_or_empty(self):
        reply = coap._process(h.build(h.NON, h.GET, 1, options=[(h.URI_PATH, "x"), (99, "c")]), h.PEER)
        self.assertTrue(reply is None or len(reply) == 0, repr(reply))

    def test_accepts_bytearray_and_memoryview(self):
        self.res(value="x")
        d = h.request(h.GET, "r", mid=8)
        self.assertEqual(h.parse(coap._process(bytearray(d), h.PEER)).payload, b"x")
        self.assertEqual(h.parse(coap._process(memoryview(d), h.PEER2)).payload, b"x")

    def test_needs_init(self):
        coap.deinit()
        raises(self, RuntimeError, coap._process, h.request(h.GET, "r"), h.PEER)


class TestGet(Base):
    def test_value_and_options(self):
        self.res(value="hello", media_type=0, max_age=60, etag=True)
        m = ask(h.GET, "r", token=b"\x01\x02")
        self.assertEqual(m.type, h.ACK)
        self.assertEqual(m.code, h.C205)
        self.assertEqual(m.token, b"\x01\x02")
        self.assertEqual(m.payload, b"hello")
        self.assertEqual(m.opt(h.CONTENT_FORMAT), b"")  # 0 encodes as empty
        self.assertEqual(m.opt(h.MAX_AGE), b"\x3c")
        self.assertEqual(m.opt(h.ETAG), b"\x01")

    def test_absent_options(self):
        self.res(value="v")
        m = ask(h.GET, "r")
        self.assertEqual(m.code, h.C205)
        self.assertFalse(m.has(h.CONTENT_FORMAT))
        self.assertFalse(m.has(h.MAX_AGE))
        self.assertFalse(m.has(h.ETAG))

    def test_media_types_encoded_minimal(self):
        for i, mt in enumerate((40, 41, 42, 43, 47, 50, 60, 300)):
            self.res("m%d" % i, media_type=mt)
            self.assertEqual(ask(h.GET, "m%d" % i).opt(h.CONTENT_FORMAT), h.uint(mt))

    def test_piggybacked_ack_same_mid(self):
        self.res()
        m = h.process(h.request(h.GET, "r", mid=0xBEEF, token=b"t"))
        self.assertEqual((m.type, m.mid, m.token), (h.ACK, 0xBEEF, b"t"))

    def test_etag_validation_203(self):
        r = self.res(value="v", etag=True)
        m = ask(h.GET, "r", options=[(h.ETAG, b"\x01")])
        self.assertEqual(m.code, h.C203)
        self.assertEqual(m.opt(h.ETAG), b"\x01")
        self.assertEqual(m.payload, b"")
        r.value("w")
        m = ask(h.GET, "r", options=[(h.ETAG, b"\x01")])
        self.assertEqual(m.code, h.C205)
        self.assertEqual(m.payload, b"w")
        self.assertEqual(m.opt(h.ETAG), b"\x02")

    def test_etag_compared_as_opaque_bytes(self):
        self.res(etag=True)
        # same number, different bytes: not a match
        m = ask(h.GET, "r", options=[(h.ETAG, b"\x00\x01")])
        self.assertEqual(m.code, h.C205)
        # a second ETag option that matches validates
        m = ask(h.GET, "r", options=[(h.ETAG, b"\x07"), (h.ETAG, b"\x01")])
        self.assertEqual(m.code, h.C203)

    def test_accept(self):
        self.res(value="x", media_type=50)
        self.assertEqual(ask(h.GET, "r", options=[(h.ACCEPT, 50)]).code, h.C205)
        m = ask(h.GET, "r", options=[(h.ACCEPT, 0)])
        self.assertEqual(m.code, h.C406)
        self.assertEqual(m.payload != b"", True)
        self.assertEqual(ask(h.GET, "r", options=[(h.ACCEPT, 41)]).code, h.C406)

    def test_accept_without_media_type_is_served(self):
        self.res(value="x")
        self.assertEqual(ask(h.GET, "r", options=[(h.ACCEPT, 41)]).code, h.C205)

    def test_uri_query_ignored_for_resources(self):
        self.res(value="q")
        m = ask(h.GET, "r", query=["a=1", "b"])
        self.assertEqual((m.code, m.payload), (h.C205, b"q"))

    def test_uri_host_and_port_accepted(self):
        self.res(value="q")
        m = ask(h.GET, "r", options=[(h.URI_HOST, "example.com"), (h.URI_PORT, 5683)])
        self.assertEqual((m.code, m.payload), (h.C205, b"q"))

    def test_observe_served_as_plain_get(self):
        self.res(value="o")
        m = ask(h.GET, "r", options=[(h.OBSERVE, 0)])
        self.assertEqual((m.code, m.payload), (h.C205, b"o"))
        self.assertFalse(m.has(h.OBSERVE))

    def test_block2_asked_is_honoured(self):
        # RFC 7959: a Block2 in the request is honoured even when the value
        # would fit one message: 64-byte blocks, the same ETag in each
        self.res(value="a" * 64 + "b" * 36)
        m = ask(h.GET, "r", options=[(h.BLOCK2, 0x02)])  # num 0, szx 2 (64 B)
        self.assertEqual((m.code, m.payload, h.block_of(m)), (h.C205, b"a" * 64, (0, True, 2)))
        m2 = ask(h.GET, "r", options=[(h.BLOCK2, 0x12)])
        self.assertEqual((m2.code, m2.payload, h.block_of(m2)), (h.C205, b"b" * 36, (1, False, 2)))
        self.assertEqual(m.opt(h.ETAG), m2.opt(h.ETAG))
        self.assertIsNotNone(m.opt(h.ETAG))

    def test_block2_past_the_end_402(self):
        self.res(value="b" * 100)
        self.assertEqual(ask(h.GET, "r", options=[(h.BLOCK2, 0x22)]).code, h.C402)

    def test_block1_applied_at_the_last_block(self):
        r = self.res(value="keep")
        m = ask(h.PUT, "r", options=[(h.BLOCK1, 0x0A)], payload=b"x" * 64)  # num 0, M=1
        self.assertEqual((m.code, h.block_of(m, h.BLOCK1)), (h.C231, (0, True, 2)))
        self.assertEqual(r.value(), b"keep")
        m = ask(h.PUT, "r", options=[(h.BLOCK1, 0x12)], payload=b"y" * 10)  # num 1, last
        self.assertEqual((m.code, h.block_of(m, h.BLOCK1)), (h.C204, (1, False, 2)))
        self.assertEqual(r.value(), b"x" * 64 + b"y" * 10)

    def test_block1_out_of_order_408(self):
        r = self.res(value="keep")
        m = ask(h.PUT, "r", options=[(h.BLOCK1, 0x2A)], payload=b"x" * 64)  # num 2, no transfer
        self.assertEqual(m.code, h.C408)
        self.assertEqual(r.value(), b"keep")

    def test_proxy_options_505(self):
        self.res()
        self.assertEqual(ask(h.GET, "r", options=[(h.PROXY_URI, "coap://h/r")]).code, h.C505)
        self.assertEqual(ask(h.GET, "r", options=[(h.PROXY_SCHEME, "coap")]).code, h.C505)

    def test_size1_elective_ignored(self):
        r = self.res()
        m = ask(h.PUT, "r", options=[(h.SIZE1, 3)], payload=b"abc")
        self.assertEqual(m.code, h.C204)
        self.assertEqual(r.value(), b"abc")


class TestPutPost(Base):
    def test_put_and_post_replace(self):
        r = self.res(value="old")
        for method, val in ((h.PUT, b"p1"), (h.POST, b"p2")):
            m = ask(method, "r", payload=val)
            self.assertEqual(m.code, h.C204)
            self.assertEqual(r.value(), val)
            self.assertEqual(ask(h.GET, "r").payload, val)

    def test_put_returns_new_etag(self):
        r = self.res(etag=True)
        m = ask(h.PUT, "r", payload=b"a")
        self.assertEqual((m.code, m.opt(h.ETAG)), (h.C204, b"\x02"))
        m = ask(h.POST, "r", payload=b"a")
        self.assertEqual((m.code, m.opt(h.ETAG)), (h.C204, b"\x03"))
        self.assertEqual(r.value(), b"a")

    def test_empty_payload_stores_empty_value(self):
        r = self.res(value="x")
        self.assertEqual(ask(h.PUT, "r").code, h.C204)
        self.assertEqual(r.value(), b"")
        r.value("y")
        self.assertEqual(ask(h.POST, "r").code, h.C204)
        self.assertEqual(r.value(), b"")

    def test_content_format_mismatch_415(self):
        r = self.res(value="x", media_type=0)
        m = ask(h.PUT, "r", payload=b"{}", options=[(h.CONTENT_FORMAT, 50)])
        self.assertEqual(m.code, h.C415)
        self.assertEqual(r.value(), b"x")
        m = ask(h.POST, "r", payload=b"{}", options=[(h.CONTENT_FORMAT, 50)])
        self.assertEqual(m.code, h.C415)
        self.assertEqual(r.value(), b"x")
        m = ask(h.PUT, "r", payload=b"t", options=[(h.CONTENT_FORMAT, 0)])
        self.assertEqual(m.code, h.C204)
        self.assertEqual(r.value(), b"t")

    def test_media_type_never_changes_by_request(self):
        self.res(value="x", media_type=41)
        self.assertEqual(ask(h.PUT, "r", payload=b"<a/>").code, h.C204)  # no CF
        self.assertEqual(ask(h.GET, "r").opt(h.CONTENT_FORMAT), h.uint(41))
        r2 = self.res("n", value="x")  # no media type: any CF is accepted
        self.assertEqual(ask(h.PUT, "n", payload=b"1", options=[(h.CONTENT_FORMAT, 50)]).code, h.C204)
        self.assertFalse(ask(h.GET, "n").has(h.CONTENT_FORMAT))
        self.assertEqual(r2.value(), b"1")

    def test_if_match(self):
        r = self.res(value="v", etag=True)
        m = ask(h.PUT, "r", payload=b"a", options=[(h.IF_MATCH, b"\x01")])
        self.assertEqual(m.code, h.C204)
        m = ask(h.PUT, "r", payload=b"b", options=[(h.IF_MATCH, b"\x01")])  # now stale
        self.assertEqual(m.code, h.C412)
        self.assertEqual(r.value(), b"a")
        m = ask(h.PUT, "r", payload=b"c", options=[(h.IF_MATCH, b"")])  # exists
        self.assertEqual(m.code, h.C204)
        m = ask(h.PUT, "r", payload=b"d", options=[(h.IF_MATCH, b"\x09"), (h.IF_MATCH, b"\x03")])
        self.assertEqual(m.code, h.C204)  # any of several
        self.assertEqual(r.value(), b"d")
        m = ask(h.POST, "r", payload=b"e", options=[(h.IF_MATCH, b"\x00\x04")])  # opaque bytes
        self.assertEqual(m.code, h.C412)
        self.assertEqual(r.value(), b"d")

    def test_no_if_match_no_precondition_with_etag(self):
        r = self.res(value="v", etag=True)
        self.assertEqual(ask(h.PUT, "r", payload=b"n").code, h.C204)
        self.assertEqual(r.value(), b"n")

    def test_if_match_on_resource_without_etag(self):
        r = self.res(value="v")
        self.assertEqual(ask(h.PUT, "r", payload=b"a", options=[(h.IF_MATCH, b"\x01")]).code, h.C412)
        self.assertEqual(r.value(), b"v")
        self.assertEqual(ask(h.PUT, "r", payload=b"a", options=[(h.IF_MATCH, b"")]).code, h.C204)
        self.assertEqual(r.value(), b"a")

    def test_if_none_match_existing_412(self):
        r = self.res(value="v", etag=True)
        m = ask(h.PUT, "r", payload=b"x", options=[(h.IF_NONE_MATCH, b"")])
        self.assertEqual(m.code, h.C412)
        self.assertEqual(r.value(), b"v")
        self.assertEqual(ask(h.GET, "r").opt(h.ETAG), b"\x01")

    def test_too_large_payload_413_with_size1(self):
        vm = h.value_max()
        r = self.res(value="v")
        coap.deinit()
        coap.init(remote_budget=2 ** 32 - 1)
        r = self.res(value="v")
        m = h.put_blockwise("r", h.Filler(b"x", vm + 1))[-1]
        self.assertEqual(m.code, h.C413)
        self.assertTrue(m.has(h.SIZE1))
        self.assertEqual(h.to_uint(m.opt(h.SIZE1)), vm)
        self.assertEqual(r.value(), b"v")
        self.assertEqual(h.put_blockwise("r", h.Filler(b"y", vm))[-1].code, h.C204)
        want = h.Filler(b"y", vm)
        self.assertTrue(h.get_blockwise("r", expect=want)[1] is want)

    def test_put_post_never_create(self):
        self.assertEqual(ask(h.PUT, "new", payload=b"x").code, h.C404)
        self.assertEqual(ask(h.POST, "new", payload=b"x").code, h.C404)
        self.assertIsNone(coap.get_resource("new"))


class TestDeleteAndErrors(Base):
    def test_delete_removes(self):
        self.res("d", value="v")
        m = ask(h.DELETE, "d")
        self.assertEqual(m.code, h.C202)
        self.assertIsNone(coap.get_resource("d"))
        self.assertEqual(ask(h.GET, "d").code, h.C404)
        self.assertEqual(ask(h.GET, ".well-known/core").payload, b"")

    def test_delete_unknown_202(self):
        self.assertEqual(ask(h.DELETE, "nothing").code, h.C202)

    def test_unknown_path_404_with_diagnostic(self):
        for method in (h.GET, h.PUT, h.POST):
            m = ask(method, "nothing", payload=b"x" if method != h.GET else b"")
            self.assertEqual(m.code, h.C404)
            self.assertTrue(len(m.payload) > 0, "no diagnostic payload")

    def test_405_has_diagnostic(self):
        coap.add_resource("n")
        m = ask(h.GET, "n")
        self.assertEqual(m.code, h.C405)
        self.assertTrue(len(m.payload) > 0)

    def test_path_matching_exact(self):
        self.res("a/b", value="ab")
        self.assertEqual(ask(h.GET, "a/b").payload, b"ab")
        self.assertEqual(ask(h.GET, "a").code, h.C404)
        self.assertEqual(ask(h.GET, "a/b/c").code, h.C404)
        self.assertEqual(ask(h.GET, "ab").code, h.C404)


class TestMessages(Base):
    def test_non_request_gets_non_response(self):
        self.res(value="n")
        m = h.process(h.request(h.GET, "r", mid=0x4242, token=b"nn", mtype=h.NON))
        self.assertEqual(m.type, h.NON)
        self.assertEqual(m.code, h.C205)
        self.assertEqual(m.token, b"nn")
        self.assertEqual(m.payload, b"n")

    def test_tokens_0_to_8_echoed(self):
        self.res()
        for n in range(9):
            tok = bytes(range(1, n + 1))
            m = ask(h.GET, "r", token=tok)
            self.assertEqual(m.token, tok)
            m = ask(h.GET, "unknown", token=tok)
            self.assertEqual((m.code, m.token), (h.C404, tok))

    def test_ping_gets_rst(self):
        m = h.process(h.build(h.CON, 0, 0x0102))
        self.assertEqual((m.type, m.code, m.mid, m.token, m.payload), (h.RST, 0, 0x0102, b"", b""))

    def test_empty_non_ignored(self):
        self.assertIsNone(h.process(h.build(h.NON, 0, 0x0103)))

    def test_version_not_1_ignored(self):
        self.res()
        for ver in (0, 2, 3):
            self.assertIsNone(h.process(h.build(h.CON, h.GET, h.next_mid(), options=[(h.URI_PATH, "r")], ver=ver)))
            self.assertIsNone(h.process(h.build(h.CON, 0, h.next_mid(), ver=ver)))

    def test_short_datagram_ignored(self):
        for d in (b"", b"\x40", b"\x40\x01\x00"):
            self.assertIsNone(h.process(d))

    def format_error(self, data):
        # a CON with a readable header but a format error gets RST; a NON is dropped
        m = h.process(data)
        self.assertIsNotNone(m, "no RST for %r" % data)
        self.assertEqual((m.type, m.code, m.mid), (h.RST, 0, (data[2] << 8) | data[3]))
        non = bytes((data[0] & 0xCF | 0x10,)) + data[1:]
        self.assertIsNone(h.process(non, h.PEER2))

    def test_empty_with_token_is_format_error(self):
        self.format_error(b"\x41\x00\x12\x34\x99")

    def test_empty_with_bytes_after_header(self):
        self.format_error(b"\x40\x00\x12\x35\xff\x01")

    def test_reserved_class(self):
        for cls in (1, 6, 7):
            self.format_error(bytes((0x40, (cls << 5) | 1, 0x20, cls)))

    def test_tkl_over_8(self):
        self.format_error(b"\x49\x01\x12\x36" + b"123456789")

    def test_option_delta_past_65535(self):
        # delta 14 (+269) twice: 65804 then far past 65535
        data = h.build(h.CON, h.GET, 0x1237) + b"\xe0\xfe\xf3" + b"\xe0\xff\x00"
        self.format_error(data)

    def test_nibble_15_and_truncated_option(self):
        self.format_error(h.build(h.CON, h.GET, 0x1238) + b"\xf0")
        self.format_error(h.build(h.CON, h.GET, 0x1239) + b"\x0f")
        self.format_error(h.build(h.CON, h.GET, 0x123A) + b"\xb5ab")  # 5 bytes promised
        self.format_error(h.build(h.CON, h.GET, 0x123B) + b"\xff")  # marker, no payload

    def test_response_to_server_is_not_a_request(self):
        # an unsolicited CON response (2.05) is not a request: RST, not 4.xx
        m = h.process(h.build(h.CON, h.C205, 0x5555, b"zz", payload=b"x"))
        self.assertEqual((m.type, m.mid), (h.RST, 0x5555))

    def test_duplicate_con_answered_from_cache_not_applied_twice(self):
        r = self.res(etag=True)
        d = h.request(h.PUT, "r", mid=0x7001, token=b"d1", payload=b"once")
        first = coap._process(d, h.PEER)
        second = coap._process(d, h.PEER)
        self.assertEqual(bytes(first), bytes(second))
        self.assertEqual(h.parse(first).opt(h.ETAG), b"\x02")
        self.assertEqual(ask(h.GET, "r").opt(h.ETAG), b"\x02")
        # the same MID from another endpoint is a different message
        third = h.parse(coap._process(d, h.PEER2))
        self.assertEqual(third.opt(h.ETAG), b"\x03")
        self.assertEqual(r.value(), b"once")

    def test_duplicate_delete_not_applied_twice(self):
        self.res("d1")
        self.res("d2")
        d = h.request(h.DELETE, "d1", mid=0x7002)
        self.assertEqual(h.parse(coap._process(d, h.PEER)).code, h.C202)
        coap.add_resource("d1")  # re-created locally
        self.assertEqual(h.parse(coap._process(d, h.PEER)).code, h.C202)
        self.assertIsNotNone(coap.get_resource("d1"))

    def test_duplicate_non_ignored(self):
        r = self.res(etag=True)
        d = h.request(h.POST, "r", mid=0x7003, mtype=h.NON, payload=b"n")
        self.assertEqual(h.parse(coap._process(d, h.PEER)).code, h.C204)
        reply = coap._process(d, h.PEER)
        self.assertTrue(reply is None or len(reply) == 0)
        self.assertEqual(ask(h.GET, "r").opt(h.ETAG), b"\x02")
        self.assertEqual(r.value(), b"n")

    def test_dedup_cache_evicts_and_stays_consistent(self):
        # many distinct requests: the cache evicts its oldest entries, new ones still work
        r = self.res(etag=True)
        for i in range(300):
            m = h.process(h.request(h.PUT, "r", mid=0x8000 + i, payload=str(i)))
            self.assertEqual(m.code, h.C204)
        self.assertEqual(r.value(), b"299")
        self.assertEqual(ask(h.GET, "r").opt(h.ETAG), h.uint(301))
        # the newest one is still a duplicate
        m = h.process(h.request(h.PUT, "r", mid=0x8000 + 299, payload="299"))
        self.assertEqual(m.opt(h.ETAG), h.uint(301))
        self.assertEqual(ask(h.GET, "r").opt(h.ETAG), h.uint(301))


    def test_duplicate_after_eviction_is_applied_again(self):
        # documented consequence of a bounded cache: once enough other
        # messages pushed an entry out, its duplicate is a new request
        r = self.res(etag=True)
        d = h.request(h.PUT, "r", mid=0x9001, payload=b"a")
        self.assertEqual(h.parse(coap._process(d, h.PEER)).opt(h.ETAG), b"\x02")
        for i in range(200):
            h.process(h.request(h.PUT, "r", mid=0xA000 + i, payload=b"f"), h.PEER2)
        self.assertEqual(ask(h.GET, "r").opt(h.ETAG), h.uint(202))
        m = h.parse(coap._process(d, h.PEER))
        self.assertEqual(m.code, h.C204)
        self.assertEqual(m.opt(h.ETAG), h.uint(203))
        self.assertEqual(r.value(), b"a")


class TestMulticast(Base):
    # requests that arrived on the multicast socket (coap._process(..., multicast=True))
    def mc(self, data, addr=h.PEER):
        reply = coap._process(data, addr, multicast=True)
        return None if not reply else h.parse(reply)

    def test_success_is_answered(self):
        self.res("a", value="x").add_attribute("rt", "t")
        m = self.mc(h.request(h.GET, "a", mid=h.next_mid(), mtype=h.NON, token=b"m"))
        self.assertEqual((m.type, m.code, m.token, m.payload), (h.NON, h.C205, b"m", b"x"))
        m = self.mc(h.request(h.GET, ".well-known/core", mid=h.next_mid(), mtype=h.NON, query=["rt=t"]))
        self.assertEqual((m.code, m.payload), (h.C205, b"</a>;rt=t"))

    def test_no_error_responses(self):
        self.res("a", methods=coap.REQUEST_GET, value="x", media_type=0)
        for data in (
            h.request(h.GET, "missing", mid=h.next_mid(), mtype=h.NON),
            h.request(h.PUT, "a", mid=h.next_mid(), mtype=h.NON, payload=b"1"),  # 4.05
            h.request(h.GET, "a", mid=h.next_mid(), mtype=h.NON, options=[(h.ACCEPT, 50)]),  # 4.06
            h.request(h.GET, "missing", mid=h.next_mid()),  # even as CON
        ):
            self.assertIsNone(self.mc(data), repr(h.parse(data)))
        # the same failing request by unicast does get its error
        self.assertEqual(ask(h.GET, "missing").code, h.C404)

    def test_discovery_without_match_is_silent(self):
        self.res("a").add_attribute("rt", "t")
        self.assertIsNone(self.mc(h.request(h.GET, ".well-known/core", mid=h.next_mid(), mtype=h.NON,
                                            query=["rt=nothing"])))
        coap.remove_resource("a")
        self.assertIsNone(self.mc(h.request(h.GET, ".well-known/core", mid=h.next_mid(), mtype=h.NON)))

    def test_datagram_on_both_sockets_handled_once(self):
        r = self.res(etag=True)
        d = h.request(h.POST, "r", mid=0x6001, mtype=h.NON, payload=b"once")
        self.assertEqual(self.mc(d).code, h.C204)
        reply = coap._process(d, h.PEER)  # the unicast copy of the same datagram
        self.assertTrue(reply is None or len(reply) == 0)
        self.assertEqual(ask(h.GET, "r").opt(h.ETAG), b"\x02")
        self.assertEqual(r.value(), b"once")


class TestOptions(Base):
    def test_unknown_critical_con_402(self):
        r = self.res(value="v")
        m = ask(h.PUT, "r", options=[(99, "x")], payload=b"no")
        self.assertEqual(m.code, h.C402)
        self.assertEqual(r.value(), b"v")
        self.assertEqual(ask(h.GET, "r", options=[(9, "x")]).code, h.C402)

    def test_unknown_critical_non_dropped(self):
        r = self.res(value="v")
        self.assertIsNone(ask(h.PUT, "r", options=[(99, "x")], payload=b"no", mtype=h.NON))
        self.assertEqual(r.value(), b"v")

    def test_unknown_elective_ignored(self):
        r = self.res(value="v")
        self.assertEqual(ask(h.GET, "r", options=[(100, "x"), (2048, "y")]).code, h.C205)
        self.assertEqual(ask(h.PUT, "r", options=[(258, "x")], payload=b"e").code, h.C204)
        self.assertEqual(r.value(), b"e")

    def test_bad_length_critical_option_402(self):
        r = self.res(value="v", etag=True)
        # If-Match 0..8 bytes, Uri-Host 1..255, Accept 0..2
        self.assertEqual(ask(h.PUT, "r", options=[(h.IF_MATCH, b"123456789")], payload=b"x").code, h.C402)
        self.assertEqual(ask(h.GET, "r", options=[(h.URI_HOST, b"")]).code, h.C402)
        self.assertEqual(ask(h.GET, "r", options=[(h.ACCEPT, b"\x00\x00\x00")]).code, h.C402)
        self.assertEqual(r.value(), b"v")

    def test_bad_length_elective_option_ignored(self):
        r = self.res(value="v", etag=True)
        # ETag 1..8 bytes; a 9-byte ETag is ignored, so no 2.03
        m = ask(h.GET, "r", options=[(h.ETAG, b"123456789")])
        self.assertEqual(m.code, h.C205)
        # Content-Format 0..2 bytes: a 3-byte one is ignored (no 4.15)
        res2 = self.res("cf", value="v", media_type=0)
        m = ask(h.PUT, "cf", options=[(h.CONTENT_FORMAT, b"\x00\x00\x32")], payload=b"z")
        self.assertEqual(m.code, h.C204)
        self.assertEqual(res2.value(), b"z")


unittest.main()
