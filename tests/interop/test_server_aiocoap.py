"""aiocoap's client API against the module's server on loopback."""

import asyncio
import unittest

import os as _os, sys as _sys
_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))), "cpython"))
import support as s  # noqa: E402  (tests/cpython/support.py)

try:
    import aiocoap
    from aiocoap import Code, Message, NON, CON
    from aiocoap.numbers.contentformat import ContentFormat
except ImportError:  # pragma: no cover
    aiocoap = None


@unittest.skipIf(aiocoap is None, "aiocoap not installed")
class AiocoapClient(s.MPTestCase):
    gil = False

    def setUp(self):
        self.port = s.free_port()
        self.srv = s.start_mp_server(self, self.port, gil=self.gil)
        self.loop = asyncio.new_event_loop()
        self.addCleanup(self.loop.close)
        self.ctx = self.loop.run_until_complete(aiocoap.Context.create_client_context())
        self.addCleanup(lambda: self.loop.run_until_complete(self.ctx.shutdown()))

    def uri(self, path):
        return "coap://127.0.0.1:%d/%s" % (self.port, path)

    def do(self, code, path, payload=b"", mtype=CON, **opts):
        msg = Message(code=code, uri=self.uri(path), payload=payload, mtype=mtype)
        for k, v in opts.items():
            setattr(msg.opt, k, v)

        async def go():
            return await asyncio.wait_for(self.ctx.request(msg).response, 10)
        try:
            return self.loop.run_until_complete(go())
        except asyncio.TimeoutError:
            self.fail_with("no response to %s %s" % (code, path), self.srv)

    def test_get(self):
        r = self.do(Code.GET, "resource1")
        self.assertEqual(r.code, Code.CONTENT)
        self.assertEqual(r.payload, b"default_value")
        self.assertEqual(r.opt.content_format, 0)

    def test_put_post_delete(self):
        self.assertEqual(self.do(Code.PUT, "json", b'{"b":1}').code, Code.CHANGED)
        self.assertEqual(self.do(Code.GET, "json").payload, b'{"b":1}')
        self.assertEqual(self.do(Code.POST, "json", b'{"b":2}').code, Code.CHANGED)
        self.assertEqual(self.do(Code.GET, "json").payload, b'{"b":2}')
        self.assertEqual(self.do(Code.DELETE, "json").code, Code.DELETED)
        self.assertEqual(self.do(Code.GET, "json").code, Code.NOT_FOUND)

    def test_empty_put_stores_empty_value(self):
        self.assertEqual(self.do(Code.PUT, "plain", b"").code, Code.CHANGED)
        r = self.do(Code.GET, "plain")
        self.assertEqual((r.code, r.payload), (Code.CONTENT, b""))

    def test_etag_if_match_if_none_match(self):
        r = self.do(Code.GET, "plain")
        etag = r.opt.etag
        self.assertEqual(etag, b"\x01")
        r = self.do(Code.GET, "plain", etags=[etag])
        self.assertEqual(r.code, Code.VALID)
        self.assertEqual(r.opt.etag, etag)
        r = self.do(Code.PUT, "plain", b"v2", if_match=[etag])
        self.assertEqual(r.code, Code.CHANGED)
        self.assertEqual(r.opt.etag, b"\x02")
        r = self.do(Code.PUT, "plain", b"v3", if_match=[etag])
        self.assertEqual(r.code, Code.PRECONDITION_FAILED)
        r = self.do(Code.PUT, "plain", b"v4", if_match=[b""])
        self.assertEqual(r.code, Code.CHANGED)
        r = self.do(Code.PUT, "plain", b"v5", if_none_match=True)
        self.assertEqual(r.code, Code.PRECONDITION_FAILED)
        self.assertEqual(self.do(Code.GET, "plain").payload, b"v4")

    def test_accept(self):
        self.assertEqual(self.do(Code.GET, "json", accept=ContentFormat(50)).code, Code.CONTENT)
        self.assertEqual(self.do(Code.GET, "json", accept=ContentFormat(41)).code, Code.NOT_ACCEPTABLE)

    def test_content_format(self):
        r = self.do(Code.PUT, "resource1", b"{}", content_format=ContentFormat(50))
        self.assertEqual(r.code, Code.UNSUPPORTED_CONTENT_FORMAT)
        r = self.do(Code.PUT, "resource1", b"txt", content_format=ContentFormat(0))
        self.assertEqual(r.code, Code.CHANGED)

    def test_discovery_filters(self):
        r = self.do(Code.GET, ".well-known/core")
        self.assertEqual(r.opt.content_format, 40)
        self.assertTrue(r.payload.startswith(b'</resource1>;title="resource1";ct=0,</resource2>'))
        r = self.do(Code.GET, ".well-known/core?if=sensor")
        self.assertEqual(r.payload, b"</sensors/temp>;rt=temperature-c;if=sensor")
        r = self.do(Code.GET, ".well-known/core?rt=data")
        self.assertEqual(r.payload, b"</json>;rt=data")

    def test_discovery_href_of_a_percent_encoded_link(self):
        # The link </a%20b>: aiocoap percent-decodes the URI's query, so
        # "?href=/a%20b" goes out as "href=/a b"; the link as written
        # (RFC 6690 4.1) is "?href=/a%2520b", or set as the option itself.
        for query in ("href=/a%20b", "href=/a%2520b", "href=/a%20*", "href=/a%252*"):
            r = self.do(Code.GET, ".well-known/core?" + query)
            self.assertEqual(r.payload, b"</a%20b>", query)
        for option in ("href=/a%20b", "href=/a b"):
            r = self.do(Code.GET, ".well-known/core", uri_query=[option])
            self.assertEqual(r.payload, b"</a%20b>", option)
        self.assertEqual(self.do(Code.GET, ".well-known/core?href=/a%2520c").payload, b"")

    def test_non(self):
        r = self.do(Code.GET, "sensors/temp", mtype=NON)
        self.assertEqual(r.code, Code.CONTENT)
        self.assertEqual(r.payload, b"21.5")
        self.assertEqual(r.mtype, NON)
        self.assertEqual(r.opt.max_age, 30)

    def test_observe_served_as_plain_get(self):
        r = self.do(Code.GET, "resource1", observe=0)
        self.assertEqual(r.code, Code.CONTENT)
        self.assertIsNone(r.opt.observe)

    def test_errors(self):
        self.assertEqual(self.do(Code.GET, "missing").code, Code.NOT_FOUND)
        self.assertEqual(self.do(Code.DELETE, "readonly").code, Code.METHOD_NOT_ALLOWED)
        self.assertEqual(self.do(Code.DELETE, "missing").code, Code.DELETED)

    def test_large_value_round_trip(self):
        # 1000 bytes fit one message both ways (aiocoap would go block-wise above 1024)
        self.assertEqual(self.do(Code.PUT, "plain", b"x" * 1000).code, Code.CHANGED)
        r = self.do(Code.GET, "plain")
        self.assertEqual(r.payload, b"x" * 1000)
        self.assertIsNone(r.opt.block2)


@unittest.skipUnless(__import__("os").path.exists(s.micropython(True)), "GIL build missing")
class AiocoapClientGil(AiocoapClient):
    gil = True


if __name__ == "__main__":
    unittest.main()
