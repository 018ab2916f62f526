# Names: the module, its functions, constants and the three import spellings.
import unittest

import coap
import helpers as h
from helpers import deinit_quiet, msg_of, raises

FUNCTIONS = (
    "init", "deinit", "add_resource", "remove_resource", "get_resource", "read",
    "register_response_handler", "new_client_session", "remove_client_session",
    "get_client_sessions",
)

CONSTANTS = {
    "REQUEST_GET": 1, "REQUEST_PUT": 2, "REQUEST_POST": 4, "REQUEST_DELETE": 8,
    "MEDIATYPE_TEXT_PLAIN": 0, "MEDIATYPE_APP_LINK_FORMAT": 40, "MEDIATYPE_APP_XML": 41,
    "MEDIATYPE_APP_OCTET_STREAM": 42, "MEDIATYPE_APP_RDF_XML": 43, "MEDIATYPE_APP_EXI": 47,
    "MEDIATYPE_APP_JSON": 50, "MEDIATYPE_APP_CBOR": 60, "PROTOCOL_UDP": 1,
}


class TestNames(unittest.TestCase):
    def tearDown(self):
        deinit_quiet()

    def test_module_name(self):
        self.assertEqual(coap.__name__, "coap")

    def test_functions_exist_and_callable(self):
        for name in FUNCTIONS:
            self.assertTrue(callable(getattr(coap, name)), name)

    def test_private_process_hook(self):
        self.assertTrue(callable(getattr(coap, "_process")))

    def test_constants_values(self):
        for name, value in CONSTANTS.items():
            v = getattr(coap, name)
            self.assertIs(type(v), int, name)
            self.assertEqual(v, value, name)

    def test_timeout_constant_outside_message_types(self):
        t = coap.TIMEOUT
        self.assertIs(type(t), int)
        self.assertFalse(0 <= t <= 3)

    def test_value_max_constant(self):
        # contract: the value limit is a documented constant
        v = coap.VALUE_MAX
        self.assertIs(type(v), int)
        # larger than one 1152-byte message: served block-wise (contract:
        # at least 16 KiB)
        self.assertTrue(v >= 16 * 1024, v)

    def test_remote_budget_constant(self):
        # contract: what peers can make the device hold has one documented
        # budget, the default of init(remote_budget=...)
        from coap import Coap
        v = coap.REMOTE_BUDGET
        self.assertIs(type(v), int)
        self.assertTrue(0 < v < 2 ** 32, v)
        self.assertEqual(Coap.REMOTE_BUDGET, v)

    def test_private_storage_hooks(self):
        self.assertTrue(callable(getattr(coap, "_storage")))
        self.assertTrue(callable(getattr(coap, "_fail_storage")))

    def test_no_protocol_dtls(self):
        # DTLS is out of scope: no half-working constant
        self.assertFalse(hasattr(coap, "PROTOCOL_DTLS"))

    def test_from_coap_import_Coap(self):
        from coap import Coap
        for name in FUNCTIONS:
            self.assertTrue(callable(getattr(Coap, name)), name)
        for name, value in CONSTANTS.items():
            self.assertEqual(getattr(Coap, name), value, name)
        self.assertEqual(Coap.TIMEOUT, coap.TIMEOUT)

    def test_Coap_spelling_works(self):
        # the documented spelling Coap.init(...) drives the same module state
        from coap import Coap
        Coap.init()
        e = raises(self, RuntimeError, coap.init)
        self.assertEqual(e.args[0], "Coap module already initialized!")
        coap.deinit()
        coap.init()
        raises(self, RuntimeError, Coap.init)

    def test_from_network_import_Coap(self):
        from network import Coap
        for name in FUNCTIONS:
            self.assertTrue(callable(getattr(Coap, name)), name)
        for name, value in CONSTANTS.items():
            self.assertEqual(getattr(Coap, name), value, name)
        Coap.init()
        r = Coap.add_resource("n")
        self.assertIs(coap.get_resource("n"), r)

    def test_network_Coap_attribute(self):
        import network
        self.assertEqual(network.Coap.REQUEST_DELETE, 8)

    def test_types_have_no_constructor(self):
        coap.init()
        r = coap.add_resource("t")
        s = coap.new_client_session("127.0.0.1")
        raises(self, TypeError, type(r))
        raises(self, TypeError, type(s))

    def test_type_names(self):
        coap.init()
        r = coap.add_resource("t")
        s = coap.new_client_session("127.0.0.1")
        self.assertEqual(type(r).__name__, "CoapResource")
        self.assertEqual(type(s).__name__, "CoapClientSession")


# MicroPython's argument parser in its terse form (ports built with
# MICROPY_ERROR_REPORTING_TERSE say only this).
PARSER_TERSE = "argument num/types mismatch"


class TestPycomKeywordNames(unittest.TestCase):
    """Every parameter can be passed by the name Pycom's API page gives it
    (an extension: Pycom's firmware took these positionally only)."""

    def setUp(self):
        deinit_quiet()
        coap.init()

    def tearDown(self):
        deinit_quiet()

    def parser_error(self, detailed, fn, *args, **kw):
        # raised by MicroPython's own parser, with its own message
        e = raises(self, TypeError, fn, *args, **kw)
        self.assertTrue(msg_of(e) in (detailed, PARSER_TERSE), repr(msg_of(e)))

    def test_value_by_keyword(self):
        r = coap.add_resource("v")
        self.assertIsNone(r.value(value="kw"))
        self.assertEqual(r.value(), b"kw")
        r.value(value=7)
        self.assertEqual(r.value(), b"7")
        r.value(value=b"")
        self.assertEqual(r.value(), b"")
        self.parser_error("extra keyword arguments given", r.value, new_value="x")
        self.parser_error("extra positional arguments given", r.value, "a", "b")
        self.parser_error("extra keyword arguments given", r.value, "a", value="b")
        self.assertEqual(r.value(), b"")

    def test_add_attribute_by_keyword(self):
        r = coap.add_resource("a")
        r.add_attribute(name="rt", value="x")
        r.add_attribute("if", value="y")
        r.add_attribute(value=3, name="sz")
        m = h.ask(h.GET, ".well-known/core")
        self.assertEqual(m.payload, b"</a>;rt=x;if=y;sz=3")
        self.parser_error("'value' argument required", r.add_attribute, name="t")
        self.parser_error("'name' argument required", r.add_attribute, value="t")
        self.parser_error("extra keyword arguments given", r.add_attribute, "t", "v", bogus=1)

    def test_callback_by_keyword(self):
        r = coap.add_resource("c")
        r.callback(operation=coap.REQUEST_GET, enable=True)
        self.assertEqual(h.ask(h.GET, "c").code, h.C205)
        r.callback(coap.REQUEST_GET, enable=False)
        self.assertEqual(h.ask(h.GET, "c").code, h.C405)
        r.callback(enable=1, operation=coap.REQUEST_GET | coap.REQUEST_PUT)
        self.assertEqual(h.ask(h.GET, "c").code, h.C205)
        self.assertEqual(h.ask(h.PUT, "c", payload=b"p").code, h.C204)
        self.parser_error("'enable' argument required", r.callback, operation=coap.REQUEST_GET)
        self.parser_error("'operation' argument required", r.callback, enable=True)

    def test_get_and_remove_resource_by_keyword(self):
        r = coap.add_resource("g")
        self.assertIs(coap.get_resource(uri="g"), r)
        self.assertIs(coap.get_resource(uri="/g"), r)
        self.assertIsNone(coap.remove_resource(uri="g"))
        self.assertIsNone(coap.get_resource(uri="g"))
        self.assertIsNone(r.value())  # detached
        self.parser_error("'uri' argument required", coap.get_resource, path="g")
        self.parser_error("'uri' argument required", coap.remove_resource)

    def test_register_response_handler_by_keyword(self):
        # delivery through the handler is tested in test_client.py
        self.assertIsNone(coap.register_response_handler(callback=print))
        self.assertIsNone(coap.register_response_handler(callback=None))
        e = raises(self, TypeError, coap.register_response_handler, callback=42)
        self.assertEqual(msg_of(e), '"callback" must be callable')
        self.parser_error("'callback' argument required", coap.register_response_handler, handler=print)

    def test_parser_runs_before_the_initialised_check(self):
        # contract "Errors": the parser's checks first, then "not initialised"
        coap.deinit()
        for fn, kw in ((coap.get_resource, {"url": "a"}), (coap.remove_resource, {"url": "a"}),
                       (coap.register_response_handler, {"cb": print})):
            raises(self, TypeError, fn, **kw)
            e = raises(self, RuntimeError, fn, *kw.values())
            self.assertEqual(msg_of(e), h.ERR_NOT_INIT)


unittest.main()
