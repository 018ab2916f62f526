# /.well-known/core (RFC 6690): document, order, quoting, query filters.
import unittest

import coap
import helpers as h
from helpers import deinit_quiet, ask

WKC = ".well-known/core"


class TestLinkFormat(unittest.TestCase):
    def setUp(self):
        deinit_quiet()
        coap.init()

    def tearDown(self):
        deinit_quiet()

    def wkc(self, query=None, **kw):
        m = ask(h.GET, WKC, query=query, **kw)
        self.assertIsNotNone(m)
        self.assertEqual(m.code, h.C205)
        return m

    def body(self, query=None):
        return self.wkc(query).payload.decode()

    def setup_api_page_resources(self):
        r = coap.add_resource("resource1", media_type=coap.MEDIATYPE_TEXT_PLAIN, value="default_value")
        r.add_attribute("title", "resource1")
        r.add_attribute("ct", str(coap.MEDIATYPE_TEXT_PLAIN))
        r.callback(coap.REQUEST_GET | coap.REQUEST_POST | coap.REQUEST_PUT, True)
        r = coap.add_resource("resource2", media_type=coap.MEDIATYPE_APP_XML, etag=True)
        r.callback(h.ALL_METHODS, True)

    def test_empty_server_205_empty_body(self):
        m = self.wkc()
        self.assertEqual(m.payload, b"")
        self.assertEqual(m.opt(h.CONTENT_FORMAT), h.uint(40))

    def test_content_format_40(self):
        coap.add_resource("a")
        self.assertEqual(self.wkc().opt(h.CONTENT_FORMAT), h.uint(40))

    def test_api_page_example(self):
        self.setup_api_page_resources()
        self.assertEqual(self.body(), '</resource1>;title="resource1";ct=0,</resource2>')

    def test_insertion_order(self):
        for name in ("c", "a", "b/x", "zz"):
            coap.add_resource(name)
        self.assertEqual(self.body(), "</c>,</a>,</b/x>,</zz>")
        coap.remove_resource("a")
        coap.add_resource("a")
        self.assertEqual(self.body(), "</c>,</b/x>,</zz>,</a>")

    def test_leading_slash_not_doubled(self):
        coap.add_resource("/s")
        self.assertEqual(self.body(), "</s>")

    def test_listed_regardless_of_enabled_methods(self):
        coap.add_resource("hidden")
        self.assertEqual(self.body(), "</hidden>")

    def links_for(self, n):
        # the document of resources 0..n-1 made by add_linked()
        return ",".join('</long/resource/name/%03d>;rt=some.long.resource.type.%03d;title="Resource number %d"'
                        % (i, i, i) for i in range(n))

    def add_linked(self, i):
        r = coap.add_resource("long/resource/name/%03d" % i)
        r.add_attribute("rt", "some.long.resource.type.%03d" % i)
        r.add_attribute("title", "Resource number %d" % i)

    def test_complete_while_it_fits_then_block_wise(self):
        # Adding resources and attributes never fails because of the
        # document's size. While the document fits one response it is served
        # complete in one (it ends with the last link); once it does not, an
        # unfiltered GET is served block-wise (RFC 7959), whole, and a
        # filtered query whose answer fits is still served in one message.
        mmax = h.message_max()
        n = 0
        while len(self.links_for(n + 1)) < mmax - 32:
            self.add_linked(n)
            n += 1
        self.assertTrue(n >= 2, n)
        m = self.wkc(token=b"12345678")
        self.assertEqual(m.payload.decode(), self.links_for(n))
        self.assertIsNone(m.opt(h.BLOCK2))
        for i in range(n, n + 20):
            self.add_linked(i)
        code, doc, answers = h.get_blockwise(WKC, token=b"12345678")
        self.assertEqual((code, doc.decode()), (h.C205, self.links_for(n + 20)))
        self.assertTrue(len(answers) > 1)
        self.assertEqual(answers[0].token, b"12345678")
        self.assertEqual(h.to_uint(answers[0].opt(h.CONTENT_FORMAT)), 40)
        m = ask(h.GET, WKC, query=["rt=some.long.resource.type.%03d" % (n + 19)])
        self.assertEqual(m.code, h.C205)
        self.assertEqual(m.payload.decode(), self.links_for(n + 20).split(",")[-1])
        m = ask(h.GET, WKC, query=["href=/long/resource/name/000"])
        self.assertEqual(m.payload.decode(), self.links_for(1))
        # removing resources brings the whole document back
        for i in range(n, n + 20):
            coap.remove_resource("long/resource/name/%03d" % i)
        self.assertEqual(self.body(), self.links_for(n))

    def test_get_only_on_wkc(self):
        coap.add_resource("a")
        self.assertEqual(ask(h.PUT, WKC, payload=b"x").code, h.C405)
        self.assertEqual(ask(h.POST, WKC, payload=b"x").code, h.C405)
        self.assertEqual(ask(h.DELETE, WKC).code, h.C405)
        self.assertEqual(self.body(), "</a>")

    def test_non_request(self):
        coap.add_resource("a")
        m = ask(h.GET, WKC, mtype=h.NON, token=b"n")
        self.assertEqual((m.type, m.code, m.token, m.payload), (h.NON, h.C205, b"n", b"</a>"))


class TestFilters(unittest.TestCase):
    def setUp(self):
        deinit_quiet()
        coap.init()
        a = coap.add_resource("sensors/temp")
        a.add_attribute("rt", "temperature-c")
        a.add_attribute("if", "sensor")
        a.add_attribute("title", "Kitchen temp")
        b = coap.add_resource("sensors/light")
        b.add_attribute("rt", "light-lux")
        b.add_attribute("if", "sensor")
        b.add_attribute("ct", "0")
        c = coap.add_resource("actuators/led")
        c.add_attribute("rt", "led")
        c.add_attribute("title", "Status")

    def tearDown(self):
        deinit_quiet()

    def links(self, query):
        m = ask(h.GET, WKC, query=[query])
        self.assertEqual(m.code, h.C205)
        body = m.payload.decode()
        return [l.split(">")[0][2:] for l in body.split(",")] if body else []

    def test_rt_exact(self):
        self.assertEqual(self.links("rt=led"), ["actuators/led"])
        self.assertEqual(self.links("rt=light-lux"), ["sensors/light"])

    def test_rt_prefix(self):
        self.assertEqual(self.links("rt=temp*"), ["sensors/temp"])
        self.assertEqual(self.links("rt=l*"), ["sensors/light", "actuators/led"])
        self.assertEqual(self.links("rt=*"), ["sensors/temp", "sensors/light", "actuators/led"])

    def test_if_filter(self):
        self.assertEqual(self.links("if=sensor"), ["sensors/temp", "sensors/light"])

    def test_title_quotes_ignored(self):
        self.assertEqual(self.links("title=Status"), ["actuators/led"])
        self.assertEqual(self.links('title="Status"'), ["actuators/led"])
        self.assertEqual(self.links("title=Kitchen*"), ["sensors/temp"])

    def test_href(self):
        self.assertEqual(self.links("href=/sensors/light"), ["sensors/light"])
        self.assertEqual(self.links("href=/sensors*"), ["sensors/temp", "sensors/light"])
        self.assertEqual(self.links("href=/actuators/led"), ["actuators/led"])

    def test_href_as_written_or_decoded(self):
        # the link </a%20b>: RFC 6690 4.1 compares the link as written,
        # while libcoap's coap-client and aiocoap send the query decoded
        coap.add_resource("a b")
        for q in ("href=/a%20b", "href=/a b", "href=/a%20*", "href=/a%2*", "href=/a *"):
            self.assertEqual(self.links(q), ["a%20b"], q)
        self.assertEqual(self.links("href=/a%2520b"), [])
        self.assertEqual(self.links("href=/a%20c"), [])

    def test_ct(self):
        self.assertEqual(self.links("ct=0"), ["sensors/light"])

    def test_no_match_unicast_empty_205(self):
        m = ask(h.GET, WKC, query=["rt=nothing"])
        self.assertEqual((m.code, m.payload), (h.C205, b""))
        self.assertEqual(self.links("unknownattr=x"), [])
        self.assertEqual(self.links("rt=tempx"), [])

    def test_filtered_entries_keep_attributes(self):
        m = ask(h.GET, WKC, query=["rt=led"])
        self.assertEqual(m.payload, b'</actuators/led>;rt=led;title="Status"')


unittest.main()
