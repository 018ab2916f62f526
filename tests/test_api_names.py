# Names: the module, its functions, constants and the three import spellings.
import unittest

import coap
from helpers import deinit_quiet, raises

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
        # a value must fit one response of the default 1152-byte message
        self.assertTrue(0 < v < 1152, v)

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


unittest.main()
