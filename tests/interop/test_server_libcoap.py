"""libcoap's coap-client (4.3.1) against the module's server on loopback, and
raw CPython datagrams where coap-client cannot send them (it splits a large
PUT with Block1). Block-wise transfer: tests/interop/test_blockwise.py."""

import re
import socket
import unittest

import os as _os, sys as _sys
_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))), "cpython"))
import support as s  # noqa: E402  (tests/cpython/support.py)


class Base(s.MPTestCase):
    gil = False

    def setUp(self):
        s.need_tool(self, "coap-client-notls")
        self.port = s.free_port()
        self.srv = s.start_mp_server(self, self.port, gil=self.gil)

    def req(self, path, method="get", extra=()):
        rc, text, sent, recv = s.coap_client(self.port, path, method, extra)
        if not recv:
            self.fail_with("no response to %s %s\n%s" % (method, path, text), self.srv)
        return recv[-1], sent, text

    def test_get(self):
        r, sent, _ = self.req("resource1")
        self.assertEqual((r.type, r.code, r.payload), ("ACK", "2.05", b"default_value"))
        self.assertEqual(r.token, sent[0].token)
        self.assertEqual(r.mid, sent[0].mid)
        self.assertIn("Content-Format:text/plain", r.options)

    def test_get_max_age(self):
        r, _, _ = self.req("sensors/temp")
        self.assertEqual(r.payload, b"21.5")
        self.assertIn("Max-Age:30", r.options)

    def test_put_then_get(self):
        r, _, _ = self.req("resource1", "put", ["-e", "new value"])
        self.assertEqual(r.code, "2.04")
        r, _, _ = self.req("resource1")
        self.assertEqual(r.payload, b"new value")

    def test_post_then_get(self):
        r, _, _ = self.req("resource1", "post", ["-e", "posted"])
        self.assertEqual(r.code, "2.04")
        self.assertEqual(self.req("resource1")[0].payload, b"posted")

    def test_delete(self):
        r, _, _ = self.req("resource2", "delete")
        self.assertEqual(r.code, "2.02")
        self.assertEqual(self.req("resource2")[0].code, "4.04")
        self.assertEqual(self.req("resource2", "delete")[0].code, "2.02")

    def test_method_not_enabled(self):
        r, _, _ = self.req("resource1", "delete")
        self.assertEqual(r.code, "4.05")
        self.assertEqual(self.req("readonly", "put", ["-e", "x"])[0].code, "4.05")

    def test_unknown_path(self):
        r, _, _ = self.req("nothing")
        self.assertEqual(r.code, "4.04")
        self.assertTrue(r.payload)

    def test_put_never_creates(self):
        self.assertEqual(self.req("created", "put", ["-e", "x"])[0].code, "4.04")

    def test_etag_flow(self):
        r, _, _ = self.req("json")
        self.assertIn("ETag:0x01", r.options)
        r, _, _ = self.req("json", extra=["-O", "4,0x01"])
        self.assertEqual(r.code, "2.03")
        self.assertEqual(r.payload, b"")
        r, _, _ = self.req("json", "put", ["-O", "1,0x01", "-e", '{"a":2}'])
        self.assertEqual(r.code, "2.04")
        self.assertIn("ETag:0x02", r.options)
        r, _, _ = self.req("json", "put", ["-O", "1,0x01", "-e", '{"a":3}'])
        self.assertEqual(r.code, "4.12")
        r, _, _ = self.req("json", "put", ["-O", "5", "-e", '{"a":4}'])
        self.assertEqual(r.code, "4.12")
        r, _, _ = self.req("json")
        self.assertEqual(r.payload, b'{"a":2}')
        self.assertIn("ETag:0x02", r.options)

    def test_accept(self):
        self.assertEqual(self.req("json", extra=["-A", "50"])[0].code, "2.05")
        self.assertEqual(self.req("json", extra=["-A", "0"])[0].code, "4.06")

    def test_content_format_mismatch(self):
        r, _, _ = self.req("resource1", "put", ["-t", "json", "-e", "{}"])
        self.assertEqual(r.code, "4.15")
        self.assertEqual(self.req("resource1")[0].payload, b"default_value")

    def test_unknown_critical_option(self):
        self.assertEqual(self.req("resource1", extra=["-O", "99,x"])[0].code, "4.02")

    def test_discovery(self):
        r, _, _ = self.req(".well-known/core")
        self.assertEqual(r.code, "2.05")
        self.assertIn("Content-Format:application/link-format", r.options)
        self.assertEqual(r.payload.decode(),
                         '</resource1>;title="resource1";ct=0,</resource2>,'
                         '</sensors/temp>;rt=temperature-c;if=sensor,</json>;rt=data,</plain>,</readonly>,</a%20b>')

    def test_discovery_filters(self):
        self.assertEqual(self.req(".well-known/core?rt=temperature-c")[0].payload,
                         b"</sensors/temp>;rt=temperature-c;if=sensor")
        self.assertEqual(self.req(".well-known/core?rt=temp*")[0].payload,
                         b"</sensors/temp>;rt=temperature-c;if=sensor")
        self.assertEqual(self.req(".well-known/core?title=resource1")[0].payload,
                         b'</resource1>;title="resource1";ct=0')
        self.assertEqual(self.req(".well-known/core?href=/resource*")[0].payload,
                         b'</resource1>;title="resource1";ct=0,</resource2>')
        r, _, _ = self.req(".well-known/core?rt=none")
        self.assertEqual((r.code, r.payload), ("2.05", b""))

    def test_discovery_href_of_a_percent_encoded_link(self):
        # The link </a%20b>: coap-client percent-decodes the query it is
        # given, so "?href=/a%20b" goes out as "href=/a b", and the link as
        # written (RFC 6690 4.1) takes "?href=/a%2520b". Both find it.
        for query, sent_query in (("href=/a%20b", "href=/a b"), ("href=/a%2520b", "href=/a%20b"),
                                  ("href=/a%20*", "href=/a *"), ("href=/a%252*", "href=/a%2*")):
            r, sent, _ = self.req(".well-known/core?" + query)
            self.assertIn("Uri-Query:" + sent_query, sent[0].options)
            self.assertEqual((r.code, r.payload), ("2.05", b"</a%20b>"), query)
        self.assertEqual(self.req(".well-known/core?href=/a%2520c")[0].payload, b"")
        self.assertEqual(self.req("a%20b")[0].payload, b"space")

    def test_non_request(self):
        r, sent, _ = self.req("resource1", extra=["-N"])
        self.assertEqual(sent[0].type, "NON")
        self.assertEqual((r.type, r.code, r.payload), ("NON", "2.05", b"default_value"))
        self.assertEqual(r.token, sent[0].token)

    def test_token(self):
        r, sent, _ = self.req("resource1", extra=["-T", "abcdefg"])
        self.assertEqual(len(sent[0].token), 7)
        self.assertEqual(r.token, sent[0].token)

    def test_ping(self):
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(c.close)
        c.settimeout(3)
        c.sendto(b"\x40\x00\xab\xcd", ("127.0.0.1", self.port))
        data, _ = c.recvfrom(64)
        self.assertEqual(data, b"\x70\x00\xab\xcd")

    def test_oversize_put_gets_4_13_with_size1(self):
        header = open(_os.path.join(s.ROOT, "mod", "mpcoap.h")).read()
        message_max = int(re.search(r"#define MPCOAP_MESSAGE_MAX (\d+)", header).group(1))
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(c.close)
        c.settimeout(3)
        for n, mid in ((1150, 0x0B01), (1500, 0x0B02)):
            payload = b"x" * n
            # CON PUT /plain, token "big", payload n bytes
            d = bytes([0x43, 0x03, mid >> 8, mid & 0xFF]) + b"big" + b"\xb5plain" + b"\xff" + payload
            self.assertGreater(len(d), message_max)
            for _ in range(2):  # a retransmission gets the same answer
                c.sendto(d, ("127.0.0.1", self.port))
                data, _ = c.recvfrom(2048)
                # ACK 4.13, same MID and token, Size1 (option 60), reason phrase
                self.assertEqual(data[:7], bytes([0x63, 0x8D, mid >> 8, mid & 0xFF]) + b"big", data)
                opt = data[7]
                self.assertEqual(opt >> 4, 13)  # extended delta: 60 = 13 + 47
                self.assertEqual(data[8], 60 - 13)
                size1 = int.from_bytes(data[9:9 + (opt & 15)], "big")
                # the largest payload one message with this request's header,
                # token and options can carry
                self.assertEqual(size1, message_max - (len(d) - n))
                self.assertTrue(data.endswith(b"\xffRequest Entity Too Large"), data)
        r, _, _ = self.req("plain")
        self.assertNotIn(b"xxx", r.payload)

    def test_block2_early_negotiation_of_a_small_value(self):
        # a value that fits one message, asked for in 16-byte blocks: served
        # in 16-byte blocks (RFC 7959 2.4); tests/interop/test_blockwise.py
        # has the rest of block-wise
        value = "0123456789abcdef" * 3
        self.assertEqual(self.req("plain", "put", ["-e", value])[0].code, "2.04")
        _, text, sent, recv = s.coap_client(self.port, "plain", "get", ["-b", "16"])
        # each request's answer (coap-client also prints the reassembled
        # response, with the first request's token)
        recv = [next(p for p in recv if p.token == q.token) for q in sent]
        self.assertEqual([(p.code, p.payload) for p in recv], [("2.05", value[i:i + 16].encode())
                                                               for i in range(0, len(value), 16)], text)
        self.assertEqual([p.options.split("Block2:")[1] for p in sent], ["0/_/16", "1/_/16", "2/_/16"], text)
        self.assertEqual([p.options.split("Block2:")[1].split(" ")[0].rstrip(",") for p in recv],
                         ["0/M/16", "1/M/16", "2/_/16"], text)


@unittest.skipUnless(s.micropython(True) and __import__("os").path.exists(s.micropython(True)),
                     "GIL build missing")
class GilBuild(Base):
    gil = True


class NoGilBuild(Base):
    gil = False


del Base

if __name__ == "__main__":
    unittest.main()
