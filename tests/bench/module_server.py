# The module's server for `make bench`, run by the unix build of MicroPython.
# usage: micropython module_server.py PORT
# GET /bench answers the same 136 bytes (and Max-Age) that libcoap's coap-server
# answers at /. A plain read() loop, as an application would write it.
import sys

from network import Coap

here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
with open(here + "/payload.txt", "rb") as f:
    payload = f.read()

Coap.init("127.0.0.1", port=int(sys.argv[1]))
r = Coap.add_resource("bench", max_age=196607, value=payload)
r.callback(Coap.REQUEST_GET, True)
while True:
    Coap.read()
