# Client: sessions, send_request validation, the request on the wire, and
# response handling against a plain UDP socket acting as the server.
import gc
import unittest

import coap
import helpers as h
from helpers import (ERR_METHOD, ERR_SESSION_NOT_REMOVED, deinit_quiet, raises,
                     raises_msg, raises_mentioning)


class TestSessions(unittest.TestCase):
    def setUp(self):
        deinit_quiet()
        coap.init()

    def tearDown(self):
        deinit_quiet()

    def test_new_session_each_time(self):
        a = coap.new_client_session("127.0.0.1", 5683)
        b = coap.new_client_session("127.0.0.1", 5683)
        self.assertEqual(type(a).__name__, "CoapClientSession")
        self.assertIsNot(a, b)
        self.assertEqual(coap.get_client_sessions(), [a, b])

    def test_get_client_sessions_new_list_same_objects_in_order(self):
        s = [coap.new_client_session("127.0.0.%d" % i, 5000 + i) for i in range(1, 4)]
        l1 = coap.get_client_sessions()
        l2 = coap.get_client_sessions()
        self.assertIsNot(l1, l2)
        self.assertEqual(len(l1), 3)
        for x, y in zip(l1, s):
            self.assertIs(x, y)
        l1.clear()
        self.assertEqual(len(coap.get_client_sessions()), 3)

    def test_get_details(self):
        s = coap.new_client_session("10.1.2.3", 6000)
        self.assertEqual(s.get_details(), ["10.1.2.3", 6000])
        self.assertEqual(coap.new_client_session("10.1.2.4").get_details(), ["10.1.2.4", 5683])
        self.assertEqual(coap.new_client_session("10.1.2.5", protocol=coap.PROTOCOL_UDP).get_details(),
                         ["10.1.2.5", 5683])
        self.assertEqual(coap.new_client_session("10.1.2.6", 7, coap.PROTOCOL_UDP).get_details(),
                         ["10.1.2.6", 7])

    def test_port_keyword(self):
        s = coap.new_client_session("10.0.0.1", port=1234)
        self.assertEqual(s.get_details(), ["10.0.0.1", 1234])

    def test_bad_destination(self):
        for bad in ("localhost", "1.2.3", "1.2.3.256", "::1", "1.2.3.4.5"):
            raises_mentioning(self, ValueError, "destination", coap.new_client_session, bad)
        raises(self, TypeError, coap.new_client_session, 127)
        raises(self, TypeError, coap.new_client_session, None)
        self.assertEqual(coap.get_client_sessions(), [])

    def test_bad_port_and_protocol(self):
        for bad in (-1, 65536):
            raises_mentioning(self, ValueError, "port", coap.new_client_session, "127.0.0.1", bad)
        raises(self, TypeError, coap.new_client_session, "127.0.0.1", "80")
        for bad in (0, 2, 3):
            raises_mentioning(self, ValueError, "protocol", coap.new_client_session, "127.0.0.1", 5683, bad)
        self.assertEqual(coap.get_client_sessions(), [])

    def test_remove_first_match(self):
        a = coap.new_client_session("127.0.0.1", 6000)
        b = coap.new_client_session("127.0.0.1", 6000)
        c = coap.new_client_session("127.0.0.1", 6001)
        self.assertIsNone(coap.remove_client_session("127.0.0.1", 6000))
        self.assertEqual(coap.get_client_sessions(), [b, c])
        raises(self, RuntimeError, a.get_details)
        raises(self, RuntimeError, a.send_request, coap.REQUEST_GET)
        self.assertEqual(b.get_details(), ["127.0.0.1", 6000])
        coap.remove_client_session("127.0.0.1", 6000, coap.PROTOCOL_UDP)
        self.assertEqual(coap.get_client_sessions(), [c])

    def test_remove_defaults(self):
        a = coap.new_client_session("127.0.0.1")
        coap.remove_client_session("127.0.0.1")
        self.assertEqual(coap.get_client_sessions(), [])
        raises(self, RuntimeError, a.get_details)

    def test_remove_no_match(self):
        a = coap.new_client_session("127.0.0.1", 6000)
        raises_msg(self, RuntimeError, ERR_SESSION_NOT_REMOVED, coap.remove_client_session, "127.0.0.2", 6000)
        raises_msg(self, RuntimeError, ERR_SESSION_NOT_REMOVED, coap.remove_client_session, "127.0.0.1", 6001)
        raises_msg(self, RuntimeError, ERR_SESSION_NOT_REMOVED, coap.remove_client_session, "127.0.0.1")
        self.assertEqual(coap.get_client_sessions(), [a])
        coap.remove_client_session("127.0.0.1", 6000)
        raises_msg(self, RuntimeError, ERR_SESSION_NOT_REMOVED, coap.remove_client_session, "127.0.0.1", 6000)

    def test_remove_bad_args(self):
        coap.new_client_session("127.0.0.1")
        raises(self, TypeError, coap.remove_client_session, 1)
        raises(self, TypeError, coap.remove_client_session)
        self.assertEqual(len(coap.get_client_sessions()), 1)

    def test_more_sessions_than_the_old_table(self):
        # the first release held 8; now only the heap bounds them
        made = [coap.new_client_session("127.0.0.1", 1000 + i) for i in range(200)]
        # assertTrue, not assertEqual: micropython-lib's unittest formats
        # its message (the repr of 200 sessions, about 4 KB) even when the
        # lists are equal, one contiguous block that a small, fragmented
        # heap (the qemu firmware's) may not have.
        self.assertTrue(coap.get_client_sessions() == made)
        for i, s in enumerate(made):
            self.assertEqual(s.get_details(), ["127.0.0.1", 1000 + i])
        coap.remove_client_session("127.0.0.1", 1000)
        self.assertTrue(coap.get_client_sessions() == made[1:])
        raises(self, RuntimeError, made[0].get_details)
        last = coap.new_client_session("127.0.0.1", 999)
        self.assertTrue(coap.get_client_sessions() == made[1:] + [last])


class TestSendRequestValidation(unittest.TestCase):
    # validation runs before any socket is needed
    def setUp(self):
        deinit_quiet()
        coap.init()
        self.s = coap.new_client_session("127.0.0.1", 9)

    def tearDown(self):
        deinit_quiet()

    def test_method_must_be_one_constant(self):
        for bad in (0, 3, 5, 15, 16, -1, 0x101):
            raises_msg(self, ValueError, ERR_METHOD, self.s.send_request, bad)
        raises(self, TypeError, self.s.send_request, "GET")
        raises(self, TypeError, self.s.send_request)

    def test_method_is_positional_options_keyword_only(self):
        raises(self, TypeError, self.s.send_request, coap.REQUEST_GET, "path")
        raises(self, TypeError, self.s.send_request, coap.REQUEST_GET, bogus=1)

    def test_content_format_range(self):
        for bad in (-2, 65536):
            raises_mentioning(self, ValueError, "content_format", self.s.send_request,
                              coap.REQUEST_PUT, content_format=bad)
        raises(self, TypeError, self.s.send_request, coap.REQUEST_PUT, content_format="0")

    def test_token_too_long(self):
        raises_mentioning(self, ValueError, "token", self.s.send_request, coap.REQUEST_GET, token="123456789")
        raises_mentioning(self, ValueError, "token", self.s.send_request, coap.REQUEST_GET, token=b"\x00" * 9)

    def test_payload_too_large(self):
        # up to VALUE_MAX goes block-wise; one byte more is refused (one
        # object of that size at a time: the qemu firmware's heap is small)
        gc.collect()
        try:
            big = b"x" * (coap.VALUE_MAX + 1)
        except MemoryError:
            # the qemu firmware's heap, with this script loaded; test_errors
            # checks the same on every port
            self.skipTest("no room for a VALUE_MAX + 1 payload")
        raises_mentioning(self, ValueError, "payload", self.s.send_request, coap.REQUEST_PUT, payload=big)
        raises_mentioning(self, ValueError, "VALUE_MAX", self.s.send_request, coap.REQUEST_POST, payload=big)
        big = None

    def test_bad_uri_path_named(self):
        # the error names the argument (contract "Errors")
        for bad in ("a%zz", "a/%2", "x/" + "y" * 256):
            raises_mentioning(self, ValueError, "uri_path", self.s.send_request, coap.REQUEST_GET, uri_path=bad)

    def test_argument_types(self):
        raises(self, TypeError, self.s.send_request, coap.REQUEST_GET, uri_path=5)
        raises(self, TypeError, self.s.send_request, coap.REQUEST_GET, payload=[5])
        raises(self, TypeError, self.s.send_request, coap.REQUEST_GET, token=5)


class Wire(unittest.TestCase):
    """The module is the client; a plain UDP socket is the server."""

    server = False

    def setUp(self):
        deinit_quiet()
        if not h.HAVE_SOCKET:
            return  # each test skips itself (h.requires)
        if self.server:
            self.port = h.init_server()
        else:
            coap.init()
        self.peer = h.Peer()
        self.rec = h.Recorder()
        coap.register_response_handler(self.rec)
        self.s = coap.new_client_session("127.0.0.1", self.peer.port)

    def tearDown(self):
        deinit_quiet()
        if hasattr(self, "peer"):
            self.peer.close()

    def send(self, method=None, **kw):
        if method is None:
            method = coap.REQUEST_GET
        mid = self.s.send_request(method, **kw)
        m, addr = self.peer.expect()
        self.assertIsNotNone(m, "request not received by the peer")
        self.assertEqual(m.mid, mid)
        return m, addr

    def pump(self, n=1, total_ms=2000):
        # read() until the handler saw n calls
        ok = h.read_until(lambda: len(self.rec.calls) >= n, total_ms)
        self.assertTrue(ok, "handler saw %d calls, expected %d" % (len(self.rec.calls), n))


@h.requires(h.need_socket)
class TestRequestOnWire(Wire):
    def test_full_request(self):
        m, _ = self.send(coap.REQUEST_PUT, uri_path="a/b?x=1&y=2", content_format=0,
                         payload="pl", token="tk")
        self.assertEqual((m.ver, m.type, m.code), (1, h.CON, h.PUT))
        self.assertEqual(m.token, b"tk")
        self.assertEqual(m.options, [(h.URI_PATH, b"a"), (h.URI_PATH, b"b"), (h.CONTENT_FORMAT, b""),
                                     (h.URI_QUERY, b"x=1"), (h.URI_QUERY, b"y=2")])
        self.assertEqual(m.payload, b"pl")

    def test_returns_int_mid_and_sent_without_read(self):
        mid = self.s.send_request(coap.REQUEST_GET, uri_path="x")
        self.assertIs(type(mid), int)
        self.assertTrue(0 <= mid <= 0xFFFF)
        m, _ = self.peer.expect(2000)
        self.assertIsNotNone(m, "send_request did not transmit")
        self.assertEqual(m.mid, mid)

    def test_method_codes(self):
        for method, c in ((coap.REQUEST_GET, h.GET), (coap.REQUEST_POST, h.POST),
                          (coap.REQUEST_PUT, h.PUT), (coap.REQUEST_DELETE, h.DELETE)):
            m, addr = self.send(method, uri_path="r")
            self.assertEqual(m.code, c)
            self.assertEqual(m.type, h.CON)
            self.peer.ack(m, addr)
            self.pump(len(self.rec.calls) + 1)

    def test_mids_differ(self):
        seen = set()
        for i in range(5):
            m, addr = self.send(uri_path="r")
            self.assertFalse(m.mid in seen)
            seen.add(m.mid)
            self.peer.ack(m, addr)
            self.pump(i + 1)

    def test_no_uri_host_no_uri_port(self):
        m, _ = self.send(uri_path="x")
        self.assertFalse(m.has(h.URI_HOST))
        self.assertFalse(m.has(h.URI_PORT))

    def test_uri_path_forms(self):
        cases = (
            ("/lead", [b"lead"]),
            ("a%20b/c%2Fd", [b"a b", b"c/d"]),
            ("%41%7a", [b"Az"]),
        )
        for i, (given, segs) in enumerate(cases):
            m, addr = self.send(uri_path=given)
            self.assertEqual(m.opts(h.URI_PATH), segs, given)
            self.peer.ack(m, addr)
            self.pump(i + 1)

    def test_no_uri_path(self):
        for i, given in enumerate((None, "")):
            m, addr = self.send(uri_path=given) if given is not None else self.send()
            self.assertEqual(m.opts(h.URI_PATH), [])
            self.assertEqual(m.options, [])
            self.peer.ack(m, addr)
            self.pump(i + 1)

    def test_query_only(self):
        m, _ = self.send(uri_path="?q=1")
        self.assertEqual(m.opts(h.URI_PATH), [])
        self.assertEqual(m.opts(h.URI_QUERY), [b"q=1"])

    def test_content_format_encoding(self):
        for i, (cf, enc) in enumerate(((50, b"\x32"), (300, b"\x01\x2c"), (65535, b"\xff\xff"))):
            m, addr = self.send(coap.REQUEST_POST, content_format=cf, payload="x")
            self.assertEqual(m.opt(h.CONTENT_FORMAT), enc)
            self.peer.ack(m, addr)
            self.pump(i + 1)
        m, _ = self.send(coap.REQUEST_POST, payload="x")
        self.assertFalse(m.has(h.CONTENT_FORMAT))

    def test_include_options_false(self):
        imei = int("359738090028145").to_bytes(8, "big")
        m, _ = self.send(coap.REQUEST_GET, uri_path="a/b?c=d", content_format=0,
                         payload="amqp://x", token=imei, include_options=False)
        self.assertEqual(m.options, [])
        self.assertEqual(m.token, imei)
        self.assertEqual(m.payload, b"amqp://x")

    def test_bytes_arguments(self):
        m, _ = self.send(coap.REQUEST_PUT, uri_path=b"b", payload=b"\x00\xff", token=b"\x00\x01")
        self.assertEqual((m.opts(h.URI_PATH), m.payload, m.token), ([b"b"], b"\x00\xff", b"\x00\x01"))

    def test_int_payload_is_decimal_text(self):
        m, _ = self.send(coap.REQUEST_PUT, uri_path="i", payload=-42)
        self.assertEqual(m.payload, b"-42")

    def test_no_token_no_payload(self):
        m, _ = self.send(coap.REQUEST_GET, uri_path="e")
        self.assertEqual((m.token, m.payload), (b"", b""))

    def test_large_payload_that_fits(self):
        m, _ = self.send(coap.REQUEST_PUT, uri_path="p", payload=b"q" * 1000)
        self.assertEqual(m.payload, b"q" * 1000)

    def test_failed_send_sends_nothing(self):
        raises(self, ValueError, self.s.send_request, coap.REQUEST_GET, token="123456789")
        raises(self, ValueError, self.s.send_request, 3)
        coap.read(100)
        self.assertIsNone(self.peer.expect(300)[0])
        # and the session still works normally (nothing was queued)
        m, _ = self.send(uri_path="ok")
        self.assertEqual(m.opts(h.URI_PATH), [b"ok"])

    def test_client_only_sessions_share_one_socket(self):
        s2 = coap.new_client_session("127.0.0.1", self.peer.port)
        self.s.send_request(coap.REQUEST_GET, uri_path="1")
        m1, a1 = self.peer.expect()
        # one CON at a time to one endpoint, across sessions (NSTART = 1)
        self.peer.ack(m1, a1)
        self.pump(1)
        s2.send_request(coap.REQUEST_GET, uri_path="2")
        _, a2 = self.peer.expect()
        self.assertEqual(h.port_of(a1), h.port_of(a2))


@h.requires(h.need_socket)
class TestRequestFromServerSocket(Wire):
    server = True

    def test_requests_leave_from_server_port(self):
        m, addr = self.send(uri_path="x")
        self.assertEqual(h.port_of(addr), self.port)
        self.peer.ack(m, addr, payload=b"back")
        self.pump(1)
        self.assertEqual(self.rec.calls[0][4], b"back")

    def test_client_talks_to_own_server(self):
        # requests and responses share the one socket: the engine tells them apart
        r = coap.add_resource("self", value="me", etag=True)
        r.callback(h.ALL_METHODS, True)
        own = coap.new_client_session("127.0.0.1", self.port)
        mid = own.send_request(coap.REQUEST_GET, uri_path="self", token="s1")
        self.pump(1)
        self.assertEqual(self.rec.calls[0], (h.C205, mid, h.ACK, b"s1", b"me"))
        mid = own.send_request(coap.REQUEST_PUT, uri_path="self", payload="new", token="s2")
        self.pump(2)
        self.assertEqual(self.rec.calls[1], (h.C204, mid, h.ACK, b"s2", b""))
        self.assertEqual(r.value(), b"new")
        mid = own.send_request(coap.REQUEST_DELETE, uri_path="self", token="s3")
        self.pump(3)
        self.assertEqual(self.rec.calls[2][:2], (h.C202, mid))
        self.assertIsNone(coap.get_resource("self"))
        self.assertIsNone(r.value())

    def test_server_still_serves_while_client_active(self):
        r = coap.add_resource("srv", value="S")
        r.callback(coap.REQUEST_GET, True)
        m, addr = self.send(uri_path="x")
        # the peer asks our server something on the same socket
        self.peer.sock.sendto(h.request(h.GET, "srv", mid=0x3333, token=b"q"), h.sockaddr("127.0.0.1", self.port))
        coap.read(500)
        q, _ = self.peer.expect()
        self.assertEqual((q.mid, q.code, q.payload), (0x3333, h.C205, b"S"))
        self.peer.ack(m, addr, payload=b"R")
        self.pump(1)
        self.assertEqual(self.rec.calls, [(h.C205, m.mid, h.ACK, b"", b"R")])


@h.requires(h.need_socket)
class TestResponses(Wire):
    def test_piggybacked(self):
        mid = self.s.send_request(coap.REQUEST_GET, uri_path="t", token="tok1")
        m, addr = self.peer.expect()
        self.peer.ack(m, addr, payload=b"value")
        self.assertEqual(coap.read(2000), 1)
        self.assertEqual(self.rec.calls, [(h.C205, mid, h.ACK, b"tok1", b"value")])
        for x in self.rec.calls[0][3:]:
            self.assertIs(type(x), bytes)

    def test_response_without_payload_delivered(self):
        m, addr = self.send(coap.REQUEST_PUT, payload="x", token="e")
        self.peer.ack(m, addr, mcode=h.C204)
        self.pump(1)
        self.assertEqual(self.rec.calls, [(h.C204, m.mid, h.ACK, b"e", b"")])

    def test_error_code_delivered(self):
        m, addr = self.send(token="e")
        self.peer.ack(m, addr, mcode=h.C404, payload=b"Not Found")
        self.pump(1)
        self.assertEqual(self.rec.calls[0][:3], (h.C404, m.mid, h.ACK))

    def test_separate_response(self):
        m, addr = self.send(token="sep")
        self.peer.reply(addr, h.ACK, 0, m.mid)  # empty ACK
        self.assertEqual(coap.read(1000), 1)
        self.assertEqual(self.rec.calls, [])  # empty ACKs are not delivered
        self.peer.reply(addr, h.CON, h.C205, 0x4444, b"sep", payload=b"later")
        self.pump(1)
        self.assertEqual(self.rec.calls, [(h.C205, 0x4444, h.CON, b"sep", b"later")])
        a, _ = self.peer.expect()
        self.assertEqual((a.type, a.code, a.mid, a.token), (h.ACK, 0, 0x4444, b""))
        # a duplicate of the CON response is ACKed again, not delivered again
        self.peer.reply(addr, h.CON, h.C205, 0x4444, b"sep", payload=b"later")
        coap.read(1000)
        a, _ = self.peer.expect()
        self.assertEqual((a.type, a.mid), (h.ACK, 0x4444))
        self.assertEqual(len(self.rec.calls), 1)

    def test_non_separate_response(self):
        m, addr = self.send(token="nn")
        self.peer.reply(addr, h.ACK, 0, m.mid)
        self.peer.reply(addr, h.NON, h.C205, 0x4545, b"nn", payload=b"n")
        self.pump(1)
        self.assertEqual(self.rec.calls, [(h.C205, 0x4545, h.NON, b"nn", b"n")])

    def test_duplicate_ack_delivered_once(self):
        m, addr = self.send(token="d")
        self.peer.ack(m, addr, payload=b"1")
        self.peer.ack(m, addr, payload=b"1")
        h.read_until(lambda: False, 600)
        self.assertEqual(len(self.rec.calls), 1)

    def test_unmatched_con_response_gets_rst(self):
        m, addr = self.send(token="mine")
        # a CON response with a token and MID we never used
        self.peer.reply(addr, h.CON, h.C205, 0x6161, b"other", payload=b"x")
        coap.read(1000)
        r, _ = self.peer.expect()
        self.assertEqual((r.type, r.code, r.mid), (h.RST, 0, 0x6161))
        self.assertEqual(self.rec.calls, [])
        # our real request is still answered normally
        self.peer.ack(m, addr, payload=b"mine")
        self.pump(1)
        self.assertEqual(self.rec.calls[0][3:], (b"mine", b"mine"))

    def test_unmatched_ack_ignored(self):
        m, addr = self.send(token="t")
        self.peer.reply(addr, h.ACK, h.C205, (m.mid + 1) & 0xFFFF, b"zz", payload=b"x")
        coap.read(500)
        self.assertEqual(self.rec.calls, [])
        self.peer.ack(m, addr, payload=b"real")
        self.pump(1)
        self.assertEqual(self.rec.calls[0][4], b"real")

    def test_ack_with_another_token_is_only_an_acknowledgement(self):
        # RFC 7252 5.3.2: a piggybacked response must match the token too;
        # with another token the ACK acknowledges our CON (4.2) but is no
        # response, so the request waits for a separate one
        m, addr = self.send(token="mine")
        self.peer.reply(addr, h.ACK, h.C205, m.mid, b"other", payload=b"not yours")
        self.assertEqual(coap.read(500), 1)
        self.assertEqual(self.rec.calls, [])
        coap.read(3100)  # past the first retransmission timeout
        self.assertIsNone(self.peer.expect(100)[0], "retransmitted after an ACK")
        self.peer.reply(addr, h.CON, h.C205, 0x5252, b"mine", payload=b"yours")
        self.pump(1)
        self.assertEqual(self.rec.calls, [(h.C205, 0x5252, h.CON, b"mine", b"yours")])
        a, _ = self.peer.expect()
        self.assertEqual((a.type, a.code, a.mid), (h.ACK, 0, 0x5252))

    def test_unrecognised_critical_option_rejected(self):
        # RFC 7252 5.4.1: option 9 is critical and unknown to us
        bad = ((9, b"x"),)
        m, addr = self.send(token="crit")
        self.peer.reply(addr, h.CON, h.C205, 0x5353, b"crit", bad, b"con")
        coap.read(500)
        r, _ = self.peer.expect()
        self.assertEqual((r.type, r.code, r.mid), (h.RST, 0, 0x5353))
        self.peer.reply(addr, h.NON, h.C205, 0x5454, b"crit", bad, b"non")
        self.peer.reply(addr, h.ACK, h.C205, m.mid, b"crit", bad, b"ack")
        coap.read(500)
        self.assertEqual(self.rec.calls, [])
        self.assertIsNone(self.peer.expect(50)[0], "a NON or ACK was answered")
        # the rejected ACK acknowledged nothing: the CON is retransmitted
        h.read_until(lambda: False, 3100)
        again, addr = self.peer.expect(100)
        self.assertIsNotNone(again, "no retransmission after a rejected ACK")
        self.assertEqual(again.mid, m.mid)
        self.peer.ack(again, addr, payload=b"good")
        self.pump(1)
        self.assertEqual(self.rec.calls, [(h.C205, m.mid, h.ACK, b"crit", b"good")])

    def test_block2_response_delivered(self):
        # Block2 and Size2 are recognised (RFC 7959): a last block 0 is
        # delivered as it is
        m, addr = self.send(token="b2")
        self.peer.ack(m, addr, payload=b"block 0", options=((h.BLOCK2, 0x06), (h.SIZE2, 7)))
        self.pump(1)
        self.assertEqual(self.rec.calls, [(h.C205, m.mid, h.ACK, b"b2", b"block 0")])

    def test_block2_short_block_with_more_gives_up(self):
        # a block with M set must be full (RFC 7959 2.2): the fetch gives up
        m, addr = self.send(token="b3")
        self.peer.ack(m, addr, payload=b"block 0", options=((h.BLOCK2, 0x0E), (h.SIZE2, 2048)))
        self.pump(1)
        self.assertEqual(self.rec.calls, [(0, m.mid, coap.TIMEOUT, b"b3", b"")])

    def test_rst_reaches_handler(self):
        m, addr = self.send(token="rst")
        self.peer.reply(addr, h.RST, 0, m.mid)
        self.pump(1)
        self.assertEqual(self.rec.calls, [(0, m.mid, h.RST, b"rst", b"")])

    def test_no_handler_registered(self):
        deinit_quiet()
        coap.init()
        s = coap.new_client_session("127.0.0.1", self.peer.port)
        s.send_request(coap.REQUEST_GET)
        m, addr = self.peer.expect()
        self.peer.ack(m, addr, payload=b"x")
        self.assertEqual(coap.read(1000), 1)

    def test_handler_none_stops_delivery(self):
        coap.register_response_handler(None)
        m, addr = self.send(token="n")
        self.peer.ack(m, addr, payload=b"x")
        self.assertEqual(coap.read(1000), 1)
        self.assertEqual(self.rec.calls, [])

    def test_replacing_handler(self):
        other = h.Recorder()
        self.assertIsNone(coap.register_response_handler(other))
        m, addr = self.send()
        self.peer.ack(m, addr)
        h.read_until(lambda: other.calls, 2000)
        self.assertEqual(len(other.calls), 1)
        self.assertEqual(self.rec.calls, [])

    def test_handler_by_keyword(self):
        # register_response_handler(callback=...), the API page's name
        other = h.Recorder()
        coap.register_response_handler(callback=other)
        m, addr = self.send(token="kw")
        self.peer.ack(m, addr, payload=b"x")
        h.read_until(lambda: other.calls, 2000)
        self.assertEqual([c[3:] for c in other.calls], [(b"kw", b"x")])
        self.assertEqual(self.rec.calls, [])

    def test_handler_exception_propagates_and_module_consistent(self):
        def bad(*args):
            raise ValueError("boom")
        coap.register_response_handler(bad)
        m, addr = self.send(token="x")
        self.peer.ack(m, addr)
        e = raises(self, ValueError, coap.read, 2000)
        self.assertEqual(e.args[0], "boom")
        coap.register_response_handler(self.rec)
        m, addr = self.send(token="y")
        self.peer.ack(m, addr, payload=b"fine")
        self.pump(1)
        self.assertEqual(self.rec.calls[0][3:], (b"y", b"fine"))

    def test_handler_may_call_module(self):
        seen = []

        def cb(code_, mid, t, tok, pl):
            seen.append(len(coap.get_client_sessions()))
            if tok == b"1":
                self.s.send_request(coap.REQUEST_GET, token="2")

        coap.register_response_handler(cb)
        m, addr = self.send(token="1")
        self.peer.ack(m, addr)
        h.read_until(lambda: seen, 2000)
        m2, addr = self.peer.expect()
        self.assertIsNotNone(m2)
        self.assertEqual(m2.token, b"2")
        self.assertEqual(seen, [1])


@h.requires(h.need_socket)
class TestReliability(Wire):
    def test_nstart_1_and_queue(self):
        m1, addr = self.send(token="1")
        mid2 = self.s.send_request(coap.REQUEST_GET, token="2")
        coap.read(300)
        self.assertIsNone(self.peer.expect(300)[0], "second CON sent while first outstanding")
        self.peer.ack(m1, addr)
        self.pump(1)
        h.read_until(lambda: False, 300)
        m2, addr = self.peer.expect()
        self.assertIsNotNone(m2, "queued request never sent")
        self.assertEqual((m2.mid, m2.token), (mid2, b"2"))

    def test_nstart_1_across_sessions(self):
        # one CON outstanding per destination endpoint, whichever session
        # sent it (RFC 7252 4.7); another endpoint is not held up
        s2 = coap.new_client_session("127.0.0.1", self.peer.port)
        other = h.Peer()
        try:
            s3 = coap.new_client_session("127.0.0.1", other.port)
            m1, addr = self.send(token="1")
            mid2 = s2.send_request(coap.REQUEST_GET, token="2")
            mid3 = s3.send_request(coap.REQUEST_GET, token="3")
            m3, _ = other.expect()
            self.assertIsNotNone(m3, "request to another endpoint held up")
            self.assertEqual(m3.mid, mid3)
            coap.read(300)
            self.assertIsNone(self.peer.expect(300)[0], "second CON sent by another session while the first is outstanding")
            self.peer.ack(m1, addr)
            self.pump(1)
            h.read_until(lambda: False, 300)
            m2, _ = self.peer.expect()
            self.assertIsNotNone(m2, "queued request never sent")
            self.assertEqual((m2.mid, m2.token), (mid2, b"2"))
        finally:
            other.close()

    def test_fifty_requests_in_flight_all_answered_in_order(self):
        # the first release held 8 and raised OSError(ENOBUFS) for the 9th;
        # now only the heap bounds them. One at a time goes out (NSTART 1),
        # each after the previous one's answer, in the order sent.
        mids = [self.s.send_request(coap.REQUEST_GET, token="q%d" % i) for i in range(50)]
        self.assertEqual(len(set(mids)), 50)
        got = []
        t0 = h.ticks()
        while len(got) < len(mids) and h.since(t0) < 20000:
            m, addr = self.peer.expect(50)
            if m is not None:
                got.append(m.mid)
                self.peer.ack(m, addr, payload=m.token)
            coap.read(20)
        self.assertEqual(got, mids)
        h.read_until(lambda: len(self.rec.calls) >= len(mids), 2000)
        self.assertEqual([c[1] for c in self.rec.calls], mids)
        self.assertEqual([c[4] for c in self.rec.calls], [("q%d" % i).encode() for i in range(50)])

    def test_retransmission_while_reading(self):
        h.long_timers(self)
        mid = self.s.send_request(coap.REQUEST_GET, uri_path="slow", token="rt")
        first, _ = self.peer.expect()
        t0 = h.ticks()
        n = coap.read(3500)
        dt = h.since(t0)
        self.assertEqual(n, 0)
        self.assertTrue(dt >= 3400, "read returned after %d ms" % dt)
        again, addr = self.peer.expect(100)
        self.assertIsNotNone(again, "no retransmission within 3.5 s")
        self.assertEqual((again.mid, again.token, again.opts(h.URI_PATH)), (mid, b"rt", [b"slow"]))
        self.peer.ack(again, addr, payload=b"ok")
        self.pump(1)
        self.assertEqual(self.rec.calls, [(h.C205, mid, h.ACK, b"rt", b"ok")])

    def test_retransmission_needs_read(self):
        # timers run inside read(): nothing is resent while nobody reads,
        # and an overdue retransmission goes out at the next read()
        h.long_timers(self)
        mid = self.s.send_request(coap.REQUEST_GET, token="nr")
        self.peer.expect()
        h.sleep_ms(3200)
        self.assertIsNone(self.peer.expect(50)[0], "retransmitted without read()")
        coap.read(50)
        again, _ = self.peer.expect(200)
        self.assertIsNotNone(again, "overdue retransmission not sent by read()")
        self.assertEqual(again.mid, mid)

    def test_no_retransmission_after_ack(self):
        # past the first retransmission's latest time (1.5 ACK_TIMEOUT)
        ack = h.ack_timeout(h.ACK_TIMEOUT_SHORT_MS)
        m, addr = self.send()
        self.peer.ack(m, addr)
        self.pump(1)
        coap.read(ack * 3 // 2 + 100)
        self.assertIsNone(self.peer.expect(100)[0])

    def test_removed_session_stops_retransmitting(self):
        ack = h.ack_timeout(h.ACK_TIMEOUT_SHORT_MS)
        self.send()
        coap.remove_client_session("127.0.0.1", self.peer.port)
        coap.read(ack * 3 // 2 + 100)
        self.assertIsNone(self.peer.expect(100)[0])
        self.assertEqual(self.rec.calls, [])


@h.requires(h.need_socket)
class TestBlockwise(Wire):
    """RFC 7959 on the client side: a peer that answers block by block."""

    N = 3000  # three blocks of 1024, a short last one

    def data(self, seed):
        return bytes(((i * 7 + seed) ^ (i >> 8)) & 0xFF for i in range(self.N))

    def test_block1_put(self):
        v = self.data(1)
        mid = self.s.send_request(coap.REQUEST_PUT, uri_path="up", payload=v, token="b1")
        got = b""
        while True:
            m, addr = self.peer.expect()
            self.assertIsNotNone(m, "block %d not sent" % (len(got) // 1024))
            self.assertEqual((m.code, m.token, m.path()), (h.PUT, b"b1", "up"))
            num, more, szx = h.block_of(m, h.BLOCK1)
            self.assertEqual((num, szx), (len(got) // 1024, 6))
            got += m.payload
            if not more:
                self.peer.ack(m, addr, mcode=h.C204, options=[(h.BLOCK1, m.opt(h.BLOCK1))])
                break
            self.peer.ack(m, addr, mcode=h.C231, options=[(h.BLOCK1, m.opt(h.BLOCK1))])
            self.assertEqual(coap.read(2000), 1)
            self.assertEqual(self.rec.calls, [])  # 2.31 is not delivered
        self.pump(1)
        h.same(self, got, v)
        self.assertEqual(len(self.rec.calls), 1)
        self.assertEqual(self.rec.calls[0][0], h.C204)
        self.assertNotEqual(mid, self.rec.calls[0][1])  # the last block's Message ID
        self.assertEqual(h.storage()[0], 1)  # only the session's block is left

    def test_block2_get(self):
        v = self.data(2)
        self.s.send_request(coap.REQUEST_GET, uri_path="big", token="b2")
        n = 0
        while True:
            m, addr = self.peer.expect()
            self.assertIsNotNone(m, "block %d not asked for" % n)
            self.assertEqual((m.code, m.token, m.path()), (h.GET, b"b2", "big"))
            self.assertEqual(h.block_of(m), None if n == 0 else (n, False, 6))
            part = v[n * 1024:(n + 1) * 1024]
            more = (n + 1) * 1024 < len(v)
            self.peer.ack(m, addr, payload=part,
                          options=[(h.ETAG, b"e"), (h.BLOCK2, h.block(n, more, 6))])
            self.assertEqual(coap.read(2000), 1)
            n += 1
            if not more:
                break
        self.assertEqual(len(self.rec.calls), 1)
        code_, _, mtype, token, payload = self.rec.calls[0]
        self.assertEqual((code_, mtype, token), (h.C205, h.ACK, b"b2"))
        h.same(self, payload, v)
        self.assertEqual(h.storage()[0], 1)

    def test_block1_memory_error_changes_nothing(self):
        # the node, then the transfer block (payload and options): either
        # refused, send_request raises MemoryError and nothing is queued
        v = self.data(4)
        for k in (1, 2):
            before = h.storage()
            h.fail_storage(k)
            raises(self, MemoryError, self.s.send_request, coap.REQUEST_PUT, uri_path="up", payload=v)
            self.assertEqual(h.storage(), before)
            self.assertIsNone(self.peer.expect(100)[0])
        h.fail_storage(0)

    def test_block2_survives_a_refused_buffer(self):
        # the first block's buffer refused: the answer is ignored as if lost,
        # the GET is retransmitted, and the fetch completes once
        # The wait for the retransmission follows ACK_TIMEOUT: shortened on
        # unix, RFC 7252's 2-3 s on firmware (no knob there; the emulated
        # ESP32-C3 run failed this test while it waited 1.2 s).
        ack = h.ack_timeout(h.ACK_TIMEOUT_SHORT_MS)
        try:
            v = self.data(5)
            self.s.send_request(coap.REQUEST_GET, uri_path="big", token="b5")
            m, addr = self.peer.expect()
            first = m.mid
            h.fail_storage(1)
            n, sent = 0, 0
            while True:
                more = (n + 1) * 1024 < len(v)
                self.peer.ack(m, addr, payload=v[n * 1024:(n + 1) * 1024],
                              options=[(h.ETAG, b"e"), (h.BLOCK2, h.block(n, more, 6))])
                self.assertEqual(coap.read(2000), 1)
                sent += 1
                if sent > 1:
                    n += 1
                if not more and sent > 1:
                    break
                m = None
                for _ in range(30 + ack * 3 // 40):  # past the first timeout's 1.5 x ACK_TIMEOUT
                    m, addr = self.peer.expect(20)
                    if m is not None:
                        break
                    coap.read(20)  # the retransmission falls due meanwhile
                self.assertIsNotNone(m, "no request after block %d" % n)
                if sent == 1:
                    self.assertEqual(m.mid, first)  # the same GET again
                    self.assertEqual(self.rec.calls, [])
            self.assertEqual(len(self.rec.calls), 1)
            h.same(self, self.rec.calls[0][4], v)
            self.assertEqual(h.storage()[0], 1)
        finally:
            h.ack_timeout(0)

    def test_block2_etag_changes_twice_gives_up(self):
        self.s.send_request(coap.REQUEST_GET, uri_path="big", token="b3")
        for etag in (b"1", b"2", b"2", b"3"):
            m, addr = self.peer.expect()
            self.assertIsNotNone(m)
            num = 0 if h.block_of(m) is None else h.block_of(m)[0]
            self.peer.ack(m, addr, payload=b"x" * 1024,
                          options=[(h.ETAG, etag), (h.BLOCK2, h.block(num, True, 6))])
            self.assertEqual(coap.read(2000), 1)
        self.assertEqual(self.rec.calls, [(0, self.rec.calls[0][1], coap.TIMEOUT, b"b3", b"")])
        self.assertIsNone(self.peer.expect(100)[0])
        self.assertEqual(h.storage()[0], 1)


@h.requires(h.need_socket)
class TestObserveOnWire(Wire):
    """observe=True and cancel_observe (RFC 7641) against a plain socket."""

    def register(self, token=b"ob"):
        m, addr = self.send(uri_path="s/t", observe=True, token=token)
        self.assertEqual(m.options, [(h.OBSERVE, b""), (h.URI_PATH, b"s"), (h.URI_PATH, b"t")])
        self.peer.ack(m, addr, options=[(h.OBSERVE, h.uint(10))], payload=b"r0")
        self.pump(1)
        return m, addr

    def notify(self, addr, mid, seq, payload, mtype=h.CON):
        self.peer.reply(addr, mtype, h.C205, mid, b"ob", [(h.OBSERVE, h.uint(seq))], payload)

    def test_notifications_reach_the_handler_stale_ones_do_not(self):
        m, addr = self.register()
        self.assertEqual(self.rec.calls[0][3:], (b"ob", b"r0"))
        self.notify(addr, 0x700, 11, b"r1")
        self.pump(2)
        ack, _ = self.peer.expect()
        self.assertEqual((ack.type, ack.mid), (h.ACK, 0x700))
        self.assertEqual(self.rec.calls[1], (h.C205, 0x700, h.CON, b"ob", b"r1"))
        # An older number: acknowledged, not reported.
        self.notify(addr, 0x701, 9, b"old")
        h.read_until(lambda: False, 200)
        ack, _ = self.peer.expect()
        self.assertEqual((ack.type, ack.mid), (h.ACK, 0x701))
        self.notify(addr, 0x702, 12, b"r2", h.NON)
        self.pump(3)
        self.assertEqual([c[4] for c in self.rec.calls], [b"r0", b"r1", b"r2"])

    def test_cancel_observe_sends_observe_1_and_silences_the_token(self):
        m, addr = self.register()
        self.assertIs(self.s.cancel_observe("ob"), True)
        self.assertIs(self.s.cancel_observe(b"ob"), False)
        d, _ = self.peer.expect()
        self.assertIsNotNone(d, "no deregistration sent")
        self.assertEqual((d.type, d.code, d.token), (h.CON, h.GET, b"ob"))
        self.assertEqual(d.options, [(h.OBSERVE, b"\x01"), (h.URI_PATH, b"s"), (h.URI_PATH, b"t")])
        self.assertNotEqual(d.mid, m.mid)
        # A notification meanwhile gets RST; the answer ends it silently.
        self.notify(addr, 0x710, 11, b"late")
        h.read_until(lambda: False, 200)
        rst, _ = self.peer.expect()
        self.assertEqual((rst.type, rst.mid), (h.RST, 0x710))
        self.peer.ack(d, addr, payload=b"plain")
        h.read_until(lambda: False, 200)
        self.assertEqual(len(self.rec.calls), 1, self.rec.calls)
        self.assertEqual(h.storage()[0], 1, "only the session is left")

    def test_a_token_is_made_when_none_is_given(self):
        m, addr = self.send(uri_path="x", observe=True)
        self.assertEqual(len(m.token), 4)
        self.assertEqual(self.s.cancel_observe(m.token), True, "a registration not yet answered")
        self.assertIsNone(self.peer.expect(200)[0], "nothing to deregister yet")


unittest.main()
