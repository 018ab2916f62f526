# Errors (contract "Errors"): every bad-input error of every function and
# method, its type and message, and that a failed call changes no state.
import unittest

import coap
import helpers as h
from helpers import ERR_METHOD, ERR_EXISTS, deinit_quiet, raises


def snapshot():
    """Everything observable about the module's state."""
    wkc = h.ask(h.GET, ".well-known/core").payload
    res = coap.get_resource("a")
    val = res.value() if res is not None else None
    m = h.ask(h.GET, "a")
    sessions = [s.get_details() for s in coap.get_client_sessions()]
    return (wkc, val, m.code, m.payload, m.opt(h.ETAG), sessions)


class TestErrorTable(unittest.TestCase):
    def setUp(self):
        deinit_quiet()
        coap.init()
        self.r = coap.add_resource("a", value="v", media_type=0, etag=True)
        self.r.add_attribute("rt", "x")
        self.r.callback(coap.REQUEST_GET, True)
        self.s = coap.new_client_session("127.0.0.1", 9)

    def tearDown(self):
        deinit_quiet()

    def check(self, exc, text, fn, *args, **kw):
        before = snapshot()
        e = raises(self, exc, fn, *args, **kw)
        msg = e.args[0] if e.args else ""
        if text is not None:
            if text.startswith("~"):
                self.assertTrue(text[1:] in str(msg), "%r does not mention %r" % (msg, text[1:]))
            else:
                self.assertEqual(msg, text)
        self.assertEqual(snapshot(), before, "state changed by a failed call")

    def test_init_errors(self):
        self.check(RuntimeError, "Coap module already initialized!", coap.init)
        self.check(RuntimeError, "Coap module already initialized!", coap.init, "127.0.0.1", port=1)

    def test_add_resource_errors(self):
        self.check(RuntimeError, ERR_EXISTS, coap.add_resource, "a")
        self.check(RuntimeError, ERR_EXISTS, coap.add_resource, "/a")
        self.check(TypeError, None, coap.add_resource, 5)
        self.check(TypeError, None, coap.add_resource, "b", value=2.5)
        self.check(TypeError, None, coap.add_resource, "b", value=[1])
        self.check(ValueError, "~media_type", coap.add_resource, "b", media_type=65536)
        self.check(ValueError, "~max_age", coap.add_resource, "b", max_age=-7)
        self.check(ValueError, None, coap.add_resource, "b", value=b"x" * (h.value_max() + 1))
        self.check(TypeError, None, coap.add_resource, "b", bogus=1)
        self.check(TypeError, None, coap.add_resource)

    def test_remove_get_errors(self):
        self.check(TypeError, None, coap.remove_resource, 1)
        self.check(TypeError, None, coap.get_resource, 1)
        self.check(TypeError, None, coap.remove_resource, "a", "b")

    def test_resource_method_errors(self):
        self.check(TypeError, None, self.r.value, 1.0)
        self.check(ValueError, None, self.r.value, b"x" * (h.value_max() + 1))
        self.check(TypeError, None, self.r.add_attribute, "rt", None)
        self.check(ValueError, "~name", self.r.add_attribute, "bad name", "v")
        self.check(ValueError, "~operation", self.r.callback, 32, True)
        self.check(TypeError, None, self.r.callback, coap.REQUEST_GET)

    def test_session_errors(self):
        self.check(ValueError, "~destination", coap.new_client_session, "300.1.1.1")
        self.check(ValueError, "~port", coap.new_client_session, "127.0.0.1", 70000)
        self.check(ValueError, "~protocol", coap.new_client_session, "127.0.0.1", 5683, 2)
        self.check(RuntimeError, "Client Session has not been removed", coap.remove_client_session, "127.0.0.9")
        self.check(ValueError, ERR_METHOD, self.s.send_request, 6)
        self.check(ValueError, "~content_format", self.s.send_request, 1, content_format=70000)
        self.check(ValueError, "~token", self.s.send_request, 1, token="abcdefghi")
        self.check(ValueError, "~payload", self.s.send_request, 2, payload=b"p" * (coap.VALUE_MAX + 1))
        self.check(TypeError, None, self.s.get_details, 1)
        self.check(ValueError, "~observe", self.s.send_request, coap.REQUEST_PUT, observe=True)
        self.check(ValueError, "~observe", self.s.send_request, coap.REQUEST_GET, observe=True, include_options=False)
        self.check(TypeError, "~token", self.s.cancel_observe, 5)
        self.check(TypeError, "~token", self.s.cancel_observe, None)
        self.check(ValueError, "~token", self.s.cancel_observe, b"123456789")
        self.check(TypeError, None, self.s.cancel_observe)
        self.check(TypeError, None, self.s.cancel_observe, b"t", b"u")

    def test_keyword_errors(self):
        # the names of Pycom's API page, with wrong types and wrong names
        self.check(TypeError, '"uri" must be a str', coap.remove_resource, uri=1)
        self.check(TypeError, '"uri" must be a str', coap.get_resource, uri=1.5)
        self.check(TypeError, None, coap.remove_resource, "a", uri="a")
        self.check(TypeError, None, coap.get_resource, name="a")
        self.check(TypeError, '"callback" must be callable', coap.register_response_handler, callback="f")
        self.check(TypeError, None, coap.register_response_handler, print, callback=print)
        self.check(TypeError, "~value", self.r.value, value=1.5)
        self.check(TypeError, "~value", self.r.value, value=None)
        self.check(ValueError, "~value", self.r.value, value=b"x" * (h.value_max() + 1))
        self.check(TypeError, None, self.r.value, val="x")
        self.check(TypeError, "~name", self.r.add_attribute, name=5, value="v")
        self.check(TypeError, "~value", self.r.add_attribute, name="rt", value=[1])
        self.check(ValueError, "~name", self.r.add_attribute, name="bad name", value="v")
        self.check(TypeError, None, self.r.add_attribute, "rt", "v", name="rt")
        self.check(TypeError, None, self.r.add_attribute, "rt")
        self.check(TypeError, None, self.r.callback, operation="1", enable=True)
        self.check(TypeError, None, self.r.callback, operation=1.0, enable=True)
        self.check(ValueError, "~operation", self.r.callback, operation=16, enable=True)
        self.check(TypeError, None, self.r.callback, coap.REQUEST_GET, True, enable=False)
        self.check(TypeError, None, self.r.callback, op=coap.REQUEST_GET, enable=True)

    def test_read_errors(self):
        self.check(ValueError, "~timeout", coap.read, -5)

    def test_register_handler_errors(self):
        self.check(TypeError, None, coap.register_response_handler)
        self.check(TypeError, None, coap.register_response_handler, 1, 2)
        self.check(TypeError, '"callback" must be callable', coap.register_response_handler, 42)


unittest.main()
