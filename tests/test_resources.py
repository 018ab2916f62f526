# Resources: add/get/remove, values, attributes, callback(), detaching,
# no table limits. Runs without sockets (the engine is driven by coap._process).
import unittest

import coap
import helpers as h
from helpers import ERR_EXISTS, deinit_quiet, raises, raises_msg, raises_mentioning


class Base(unittest.TestCase):
    def setUp(self):
        deinit_quiet()
        coap.init()

    def tearDown(self):
        deinit_quiet()

    def get(self, path, **kw):
        return h.ask(h.GET, path, **kw)

    def etag_of(self, path):
        return self.get(path).opt(h.ETAG)


class TestAddResource(Base):
    def test_returns_resource_and_get_returns_same_object(self):
        r = coap.add_resource("a")
        self.assertEqual(type(r).__name__, "CoapResource")
        self.assertIs(coap.get_resource("a"), r)
        self.assertIs(coap.get_resource("a"), coap.get_resource("a"))

    def test_default_value_is_decimal_zero_text(self):
        r = coap.add_resource("a")
        self.assertEqual(r.value(), b"0")
        r.callback(coap.REQUEST_GET, True)
        self.assertEqual(self.get("a").payload, b"0")

    def test_value_kwarg(self):
        self.assertEqual(coap.add_resource("s", value="text").value(), b"text")
        self.assertEqual(coap.add_resource("b", value=b"\x00\xff").value(), b"\x00\xff")
        self.assertEqual(coap.add_resource("i", value=1234).value(), b"1234")
        self.assertEqual(coap.add_resource("e", value="").value(), b"")

    def test_unknown_get_returns_none(self):
        self.assertIsNone(coap.get_resource("nope"))

    def test_duplicate_raises(self):
        r = coap.add_resource("dup", value="1")
        raises_msg(self, RuntimeError, ERR_EXISTS, coap.add_resource, "dup", value="2")
        self.assertIs(coap.get_resource("dup"), r)
        self.assertEqual(r.value(), b"1")

    def test_leading_slash_ignored_everywhere(self):
        r = coap.add_resource("/lead", value="x")
        self.assertIs(coap.get_resource("lead"), r)
        self.assertIs(coap.get_resource("/lead"), r)
        raises_msg(self, RuntimeError, ERR_EXISTS, coap.add_resource, "lead")
        r.callback(coap.REQUEST_GET, True)
        self.assertEqual(self.get("lead").payload, b"x")
        coap.remove_resource("/lead")
        self.assertIsNone(coap.get_resource("lead"))
        r2 = coap.add_resource("lead2")
        coap.remove_resource("lead2")
        self.assertIsNone(coap.get_resource("/lead2"))
        self.assertIsNone(r2.value())

    def test_only_one_leading_slash_is_ignored(self):
        try:
            coap.add_resource("//x")
        except ValueError:
            return  # an empty first segment may be refused outright
        self.assertIsNone(coap.get_resource("x"))
        self.assertIsNotNone(coap.get_resource("//x"))

    def test_multi_segment_uri(self):
        r = coap.add_resource("a/b/c", value="deep")
        r.callback(coap.REQUEST_GET, True)
        self.assertEqual(self.get("a/b/c").payload, b"deep")
        self.assertEqual(self.get("a/b").code, h.C404)

    def test_uri_is_not_cut_at_nul(self):
        # Pycom cut strings at the first NUL byte; here the whole uri counts
        r = coap.add_resource("a\x00b")
        self.assertIsNone(coap.get_resource("a"))
        self.assertIs(coap.get_resource("a\x00b"), r)

    def test_bytes_uri(self):
        r = coap.add_resource(b"byt")
        self.assertIs(coap.get_resource("byt"), r)
        self.assertIs(coap.get_resource(b"byt"), r)

    def test_uri_type_errors(self):
        for bad in (1, None, 1.5, ["a"]):
            raises(self, TypeError, coap.add_resource, bad)
            raises(self, TypeError, coap.get_resource, bad)
            raises(self, TypeError, coap.remove_resource, bad)

    def test_empty_uri_rejected(self):
        raises_mentioning(self, ValueError, "uri", coap.add_resource, "")

    def test_percent_is_an_ordinary_character(self):
        # Resource uris are matched against the received Uri-Path options,
        # which are decoded already: a uri is never percent-decoded, so
        # "a%zz" is valid and reached by the Uri-Path "a%zz".
        r = coap.add_resource("a%zz")
        r.callback(coap.REQUEST_GET, True)
        self.assertEqual(self.get("a%zz").code, h.C205)
        self.assertEqual(self.get("a").code, h.C404)
        self.assertIs(coap.get_resource("a%zz"), r)
        self.assertEqual(self.get(".well-known/core").payload, b"</a%25zz>")
        for bad in ("", "/", "a/" + "x" * 256, b"\xff"):
            raises_mentioning(self, ValueError, "uri", coap.add_resource, bad)

    def test_media_type_range(self):
        coap.add_resource("m0", media_type=0)
        coap.add_resource("m1", media_type=65535)
        coap.add_resource("m2", media_type=-1)
        raises_mentioning(self, ValueError, "media_type", coap.add_resource, "m3", media_type=65536)
        raises_mentioning(self, ValueError, "media_type", coap.add_resource, "m4", media_type=-2)
        raises(self, TypeError, coap.add_resource, "m5", media_type="0")
        self.assertIsNone(coap.get_resource("m3"))
        self.assertIsNone(coap.get_resource("m4"))
        self.assertIsNone(coap.get_resource("m5"))

    def test_max_age_range(self):
        coap.add_resource("a0", max_age=0)
        coap.add_resource("a1", max_age=2 ** 32 - 1)
        coap.add_resource("a2", max_age=-1)
        raises_mentioning(self, ValueError, "max_age", coap.add_resource, "a3", max_age=2 ** 32)
        raises_mentioning(self, ValueError, "max_age", coap.add_resource, "a4", max_age=-2)
        raises(self, TypeError, coap.add_resource, "a5", max_age="1")
        self.assertIsNone(coap.get_resource("a3"))
        self.assertIsNone(coap.get_resource("a4"))

    def test_max_age_top_value_on_the_wire(self):
        r = coap.add_resource("top", max_age=2 ** 32 - 1, media_type=65535)
        r.callback(coap.REQUEST_GET, True)
        m = self.get("top")
        self.assertEqual(m.opt(h.MAX_AGE), b"\xff\xff\xff\xff")
        self.assertEqual(m.opt(h.CONTENT_FORMAT), b"\xff\xff")

    def test_value_type_error_creates_nothing(self):
        for bad in (1.5, [1], {}, None):
            raises(self, TypeError, coap.add_resource, "v", value=bad)
        self.assertIsNone(coap.get_resource("v"))
        coap.add_resource("v")  # the uri is still free

    def test_value_too_large_creates_nothing(self):
        vm = h.value_max()
        raises(self, ValueError, coap.add_resource, "big", value=b"x" * (vm + 1))
        self.assertIsNone(coap.get_resource("big"))
        r = coap.add_resource("big", value=b"x" * vm)
        self.assertEqual(len(r.value()), vm)

    def test_etag_kwarg_truthiness(self):
        a = coap.add_resource("e1", etag=True)
        b = coap.add_resource("e2", etag=1)
        c = coap.add_resource("e3")
        for r in (a, b, c):
            r.callback(coap.REQUEST_GET, True)
        self.assertEqual(self.etag_of("e1"), b"\x01")
        self.assertEqual(self.etag_of("e2"), b"\x01")
        self.assertIsNone(self.etag_of("e3"))

    def test_more_resources_than_the_old_table(self):
        # the first release held 16; now only the heap bounds them
        made = [coap.add_resource("cap%d" % i, value=str(i)) for i in range(100)]
        for i, r in enumerate(made):
            self.assertIs(coap.get_resource("cap%d" % i), r)
            self.assertEqual(r.value(), str(i).encode())
            r.callback(coap.REQUEST_GET, True)
        for i in (0, 16, 17, 99):
            m = self.get("cap%d" % i)
            self.assertEqual((m.code, m.payload), (h.C205, str(i).encode()))
        coap.remove_resource("cap16")
        self.assertIsNone(coap.get_resource("cap16"))
        self.assertEqual(self.get("cap16").code, h.C404)
        self.assertIs(coap.get_resource("cap17"), made[17])
        again = coap.add_resource("cap16", value="again")
        self.assertIs(coap.get_resource("cap16"), again)
        self.assertEqual(made[15].value(), b"15")

    def test_long_uris_beyond_the_old_text_storage(self):
        # uris were kept in 1024 bytes of text shared with the attributes;
        # now 20 resources with 200-byte uris all fit, and the discovery
        # document, longer than one message, is served block-wise
        made = []
        for i in range(20):
            uri = "%02d/" % i + "u" * 200
            made.append((uri, coap.add_resource(uri, value=str(i))))
        for i, (uri, r) in enumerate(made):
            self.assertIs(coap.get_resource(uri), r)
            r.callback(coap.REQUEST_GET, True)
            m = self.get(uri)
            self.assertEqual((m.code, m.payload), (h.C205, str(i).encode()))
        code, doc, answers = h.get_blockwise(".well-known/core")
        self.assertEqual(code, h.C205)
        self.assertTrue(len(answers) > 1)
        self.assertEqual(doc, ",".join("</%s>" % u for u, _ in made).encode())
        # a filtered query whose answer fits is served
        m = self.get(".well-known/core", query=["href=/07/*"])
        self.assertEqual((m.code, m.payload), (h.C205, ("</%s>" % made[7][0]).encode()))
        # once the document fits again, it is served whole
        for uri, _ in made[3:]:
            coap.remove_resource(uri)
        m = self.get(".well-known/core")
        self.assertEqual(m.code, h.C205)
        self.assertEqual(m.payload, ",".join("</%s>" % u for u, _ in made[:3]).encode())

    def test_values_beyond_the_old_value_storage(self):
        # values shared 2432 bytes; now an application store grows a value
        # to VALUE_MAX (served block-wise), and 20 values of 1000 bytes fit
        vm = h.value_max()
        small = coap.add_resource("small", value=b"s")
        small.callback(coap.REQUEST_GET, True)
        small.value(b"t" * vm)
        want = h.Filler(b"t", vm)
        code, body, answers = h.get_blockwise("small", expect=want)
        self.assertEqual((code, body is want), (h.C205, True), body)
        self.assertTrue(len(answers) > 1)
        small.value(b"s")
        made = [coap.add_resource("big%d" % i, value=bytes([65 + i]) * 1000) for i in range(20)]
        for i, r in enumerate(made):
            self.assertEqual(r.value(), bytes([65 + i]) * 1000)
            r.callback(coap.REQUEST_GET, True)
            m = self.get("big%d" % i)
            self.assertEqual((m.code, m.payload), (h.C205, bytes([65 + i]) * 1000))
        # a remote PUT grows another one as far as the remote budget allows
        # (what it grows beyond the application's value counts against it)
        put = coap.add_resource("put", value=b"p")
        put.callback(coap.REQUEST_PUT | coap.REQUEST_GET, True)
        m = h.put_blockwise("put", h.Filler(b"u", vm))[-1]
        if vm - 1 <= h.remote_budget():
            self.assertEqual(m.code, h.C204)
            want = h.Filler(b"u", vm)
            self.assertTrue(h.get_blockwise("put", expect=want)[1] is want)
        else:
            self.assertEqual((m.code, h.to_uint(m.opt(h.SIZE1))), (h.C413, h.remote_budget() + 1))
            self.assertEqual(put.value(), b"p")
        coap.remove_resource("big0")
        coap.add_resource("again", value=b"z" * 1000)
        self.assertEqual(made[1].value(), b"B" * 1000)


class TestRemove(Base):
    def test_remove_unknown_does_nothing(self):
        r = coap.add_resource("stay")
        self.assertIsNone(coap.remove_resource("unknown"))
        self.assertIs(coap.get_resource("stay"), r)

    def test_removed_object_is_detached(self):
        r = coap.add_resource("gone", value="v")
        r.callback(coap.REQUEST_GET, True)
        self.assertIsNone(coap.remove_resource("gone"))
        self.assertIsNone(coap.get_resource("gone"))
        self.assertIsNone(r.value())
        raises(self, RuntimeError, r.value, "x")
        raises(self, RuntimeError, r.add_attribute, "rt", "x")
        raises(self, RuntimeError, r.callback, coap.REQUEST_GET, True)
        self.assertEqual(self.get("gone").code, h.C404)

    def test_readd_after_remove_is_new_object(self):
        r = coap.add_resource("re", value="1")
        coap.remove_resource("re")
        r2 = coap.add_resource("re", value="2")
        self.assertIsNot(r, r2)
        self.assertIsNone(r.value())
        raises(self, RuntimeError, r.value, "3")
        self.assertEqual(r2.value(), b"2")

    def test_removed_by_remote_delete_is_detached(self):
        r = coap.add_resource("rd", value="v")
        r.callback(coap.REQUEST_DELETE, True)
        self.assertEqual(h.ask(h.DELETE, "rd").code, h.C202)
        self.assertIsNone(coap.get_resource("rd"))
        self.assertIsNone(r.value())
        raises(self, RuntimeError, r.callback, coap.REQUEST_GET, True)


class TestValue(Base):
    def test_value_types(self):
        r = coap.add_resource("v")
        cases = (
            ("text", b"text"),
            ("\u00e9\u20ac", "\u00e9\u20ac".encode()),
            (b"\x00\x01", b"\x00\x01"),
            (bytearray(b"ba"), b"ba"),
            (memoryview(b"xmvx")[1:3], b"mv"),
            (0, b"0"),
            (7, b"7"),
            (-12, b"-12"),
            (256, b"256"),
            (2 ** 40, b"1099511627776"),
            (True, b"1"),
            (False, b"0"),
            ("", b""),
        )
        for given, stored in cases:
            self.assertIsNone(r.value(given))
            got = r.value()
            self.assertIs(type(got), bytes)
            self.assertEqual(got, stored, repr(given))

    def test_value_is_a_copy(self):
        ba = bytearray(b"abc")
        r = coap.add_resource("c", value=ba)
        ba[0] = ord("z")
        self.assertEqual(r.value(), b"abc")
        r.value(ba)
        ba[1] = ord("z")
        self.assertEqual(r.value(), b"zbc")

    def test_value_type_error_changes_nothing(self):
        r = coap.add_resource("t", value="keep", etag=True)
        r.callback(coap.REQUEST_GET, True)
        before = self.etag_of("t")
        for bad in (1.5, None, [1], (1,), object()):
            raises(self, TypeError, r.value, bad)
        self.assertEqual(r.value(), b"keep")
        self.assertEqual(self.etag_of("t"), before)

    def test_value_too_large_changes_nothing(self):
        vm = h.value_max()
        r = coap.add_resource("t", value="keep", etag=True)
        r.callback(coap.REQUEST_GET, True)
        raises(self, ValueError, r.value, b"x" * (vm + 1))
        self.assertEqual(r.value(), b"keep")
        self.assertEqual(self.etag_of("t"), b"\x01")
        want = b"y" * vm
        r.value(want)
        code, body, _ = h.get_blockwise("t", expect=want)
        self.assertEqual(code, h.C205)
        h.same(self, body, want)

    def test_largest_value_with_all_options(self):
        # worst case: 8-byte token, Content-Format, Max-Age, ETag; served
        # block-wise, every block with the options and the same ETag
        vm = h.value_max()
        want = b"z" * vm
        r = coap.add_resource("w", value=want, media_type=65535, max_age=2 ** 32 - 1, etag=True)
        r.callback(coap.REQUEST_GET, True)
        for _ in range(300):
            r.value(want)  # two-byte ETag
        code, body, answers = h.get_blockwise("w", token=b"12345678", expect=want)
        self.assertEqual(code, h.C205)
        h.same(self, body, want)
        for m in answers:
            self.assertEqual(m.token, b"12345678")
            self.assertEqual(len(m.opt(h.ETAG)), 2)
            self.assertEqual(h.to_uint(m.opt(h.CONTENT_FORMAT)), 65535)

    def test_too_many_arguments(self):
        r = coap.add_resource("t")
        raises(self, TypeError, r.value, 1, 2)

    def test_every_store_increments_etag(self):
        r = coap.add_resource("et", etag=True)
        r.callback(coap.REQUEST_GET, True)
        self.assertEqual(self.etag_of("et"), b"\x01")
        r.value("same")
        self.assertEqual(self.etag_of("et"), b"\x02")
        r.value("same")
        self.assertEqual(self.etag_of("et"), b"\x03")
        # a GET does not change it
        self.assertEqual(self.etag_of("et"), b"\x03")

    def test_etag_minimal_big_endian_and_wraps_skipping_zero(self):
        r = coap.add_resource("wrap", etag=True)
        r.callback(coap.REQUEST_GET, True)
        for _ in range(254):
            r.value(b"")
        self.assertEqual(self.etag_of("wrap"), b"\xff")  # 255
        r.value(b"")
        self.assertEqual(self.etag_of("wrap"), b"\x01\x00")  # 256
        for _ in range(65535 - 256):
            r.value(b"")
        self.assertEqual(self.etag_of("wrap"), b"\xff\xff")
        r.value(b"")
        self.assertEqual(self.etag_of("wrap"), b"\x01")  # skips 0


class TestAttributes(Base):
    def wkc(self):
        m = self.get(".well-known/core")
        self.assertEqual(m.code, h.C205)
        return m.payload.decode()

    def test_add_attribute_returns_none_and_shows(self):
        r = coap.add_resource("r1")
        self.assertIsNone(r.add_attribute("rt", "temp"))
        self.assertEqual(self.wkc(), "</r1>;rt=temp")

    def test_attribute_order_is_insertion_order(self):
        r = coap.add_resource("r1")
        r.add_attribute("if", "sensor")
        r.add_attribute("ct", "0")
        r.add_attribute("rt", "x")
        self.assertEqual(self.wkc(), "</r1>;if=sensor;ct=0;rt=x")

    def test_title_is_quoted(self):
        r = coap.add_resource("resource1")
        r.add_attribute("title", "resource1")
        r.add_attribute("ct", str(coap.MEDIATYPE_TEXT_PLAIN))
        self.assertEqual(self.wkc(), '</resource1>;title="resource1";ct=0')

    def test_non_ptoken_values_are_quoted(self):
        r = coap.add_resource("q")
        r.add_attribute("rt", "two words")
        r.add_attribute("if", "a,b")
        r.add_attribute("sz", "")
        r.add_attribute("x", 'say "hi"')
        self.assertEqual(self.wkc(), '</q>;rt="two words";if="a,b";sz="";x="say \\"hi\\""')

    def test_bytes_name_and_value(self):
        r = coap.add_resource("b")
        r.add_attribute(b"rt", b"bytes")
        r.add_attribute("sz", 42)  # an int is written as its decimal text
        self.assertEqual(self.wkc(), "</b>;rt=bytes;sz=42")

    def test_attribute_type_errors_change_nothing(self):
        r = coap.add_resource("t")
        raises(self, TypeError, r.add_attribute, 1, "x")
        raises(self, TypeError, r.add_attribute, "rt", None)
        raises(self, TypeError, r.add_attribute, "rt")
        self.assertEqual(self.wkc(), "</t>")

    def test_invalid_attribute_name(self):
        r = coap.add_resource("t")
        for bad in ("", "a b", "a;b", "a=b", 'a"'):
            raises_mentioning(self, ValueError, "name", r.add_attribute, bad, "x")
        self.assertEqual(self.wkc(), "</t>")

    def test_more_attributes_than_the_old_table(self):
        # the first release held 32 over all resources; now only the heap
        # bounds them
        r = coap.add_resource("t")
        for i in range(100):
            self.assertIsNone(r.add_attribute("a%d" % i, "v"))
        other = coap.add_resource("u")
        other.add_attribute("rt", "x")
        body = self.wkc()
        self.assertEqual(body, "</t>" + "".join(";a%d=v" % i for i in range(100)) + ",</u>;rt=x")


class TestCallback(Base):
    def test_new_resource_answers_405(self):
        coap.add_resource("n")
        for method in (h.GET, h.PUT, h.POST, h.DELETE):
            m = h.ask(method, "n", payload=b"p" if method in (h.PUT, h.POST) else b"")
            self.assertEqual(m.code, h.C405, method)
        self.assertIsNotNone(coap.get_resource("n"))

    def test_enable_each_method(self):
        r = coap.add_resource("m", value="v")
        self.assertIsNone(r.callback(coap.REQUEST_GET, True))
        self.assertEqual(h.ask(h.GET, "m").code, h.C205)
        self.assertEqual(h.ask(h.PUT, "m", payload=b"1").code, h.C405)
        r.callback(coap.REQUEST_PUT | coap.REQUEST_POST, True)
        self.assertEqual(h.ask(h.PUT, "m", payload=b"1").code, h.C204)
        self.assertEqual(h.ask(h.POST, "m", payload=b"2").code, h.C204)
        self.assertEqual(h.ask(h.DELETE, "m").code, h.C405)

    def test_disable(self):
        r = coap.add_resource("m")
        r.callback(h.ALL_METHODS, True)
        r.callback(coap.REQUEST_GET | coap.REQUEST_DELETE, False)
        self.assertEqual(h.ask(h.GET, "m").code, h.C405)
        self.assertEqual(h.ask(h.DELETE, "m").code, h.C405)
        self.assertEqual(h.ask(h.PUT, "m", payload=b"x").code, h.C204)
        r.callback(coap.REQUEST_GET, 1)  # truthiness
        self.assertEqual(h.ask(h.GET, "m").code, h.C205)
        r.callback(coap.REQUEST_GET, 0)
        self.assertEqual(h.ask(h.GET, "m").code, h.C405)

    def test_bad_operation_changes_nothing(self):
        r = coap.add_resource("m")
        r.callback(coap.REQUEST_GET, True)
        for bad in (16, 0x100, -1, h.ALL_METHODS | 16):
            raises_mentioning(self, ValueError, "operation", r.callback, bad, False)
        self.assertEqual(h.ask(h.GET, "m").code, h.C205)
        raises(self, TypeError, r.callback, "1", True)
        raises(self, TypeError, r.callback, coap.REQUEST_GET)
        self.assertEqual(h.ask(h.GET, "m").code, h.C205)


unittest.main()
