# MicroPython side of the interop tests: a coap server on 127.0.0.1.
# usage: micropython mp_server.py PORT [sd] [addr=A.B.C.D]
# Prints READY once serving; runs until killed.
import sys

import coap

port = int(sys.argv[1])
flags = sys.argv[2:]
addr = "127.0.0.1"
for f in flags:
    if f.startswith("addr="):
        addr = f[5:]
coap.init(addr, port=port, service_discovery=("sd" in flags))

ALL = coap.REQUEST_GET | coap.REQUEST_PUT | coap.REQUEST_POST | coap.REQUEST_DELETE

# the API page's server example
r = coap.add_resource("resource1", media_type=coap.MEDIATYPE_TEXT_PLAIN, value="default_value")
r.add_attribute("title", "resource1")
r.add_attribute("ct", str(coap.MEDIATYPE_TEXT_PLAIN))
r.callback(coap.REQUEST_GET | coap.REQUEST_POST | coap.REQUEST_PUT, True)
r = coap.add_resource("resource2", media_type=coap.MEDIATYPE_APP_XML, etag=True)
r.callback(ALL, True)

r = coap.add_resource("sensors/temp", media_type=0, max_age=30, value="21.5")
r.add_attribute("rt", "temperature-c")
r.add_attribute("if", "sensor")
r.callback(coap.REQUEST_GET, True)

r = coap.add_resource("json", media_type=coap.MEDIATYPE_APP_JSON, value='{"a":1}', etag=True)
r.add_attribute("rt", "data")
r.callback(ALL, True)

r = coap.add_resource("plain", value="p", etag=True)
r.callback(ALL, True)

r = coap.add_resource("readonly", value="ro")
r.callback(coap.REQUEST_GET, True)

# a uri that link-format writes percent-encoded: </a%20b>
r = coap.add_resource("a b", value="space")
r.callback(coap.REQUEST_GET, True)

print("READY", port)
while True:
    coap.read(0)
