# Observing a resource (RFC 7641) with the module's client: every change of
# the server's resource reaches the response handler, until cancel_observe().
# The server here is libcoap's coap-server (its /time changes every second),
# or examples/observable_sensor.py (its /temp).
#   micropython examples/observe_client.py [SERVER_PORT [URI [SECONDS]]]
import sys
import time

from network import Coap

SERVER_PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 5683
URI = sys.argv[2] if len(sys.argv) > 2 else "time"
SECONDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
TOKEN = b"obs1"  # our own token: it tells the notifications apart


def handler(code, id_param, type_param, token, payload):
    # A notification looks like any response: only its token says which
    # observation it belongs to.
    if token == TOKEN:
        print("notification", code, payload)
    else:
        print("other response", code, token, payload)


Coap.init()  # client only; on a board: connect first, then Coap.init()
Coap.register_response_handler(handler)
# On a board: the server's address instead of 127.0.0.1.
session = Coap.new_client_session("127.0.0.1", SERVER_PORT)
session.send_request(Coap.REQUEST_GET, uri_path=URI, token=TOKEN, observe=True)

end = time.ticks_add(time.ticks_ms(), SECONDS * 1000)
while time.ticks_diff(end, time.ticks_ms()) > 0:
    try:
        Coap.read(max(1, time.ticks_diff(end, time.ticks_ms())))
    except Exception as e:
        sys.print_exception(e)

# A GET with Observe 1 ends the observation at the server; from now on the
# handler gets nothing more for TOKEN.
print("cancelled", session.cancel_observe(TOKEN))
Coap.read(500)
Coap.deinit()
print("done")
