# The API page's "Usage Example of CoAp Client in non-blocking mode", for the
# MicroPython unix build: the WLAN lines are replaced, the two servers are
# local ones on loopback (session1: e.g. libcoap's coap-server, with /time;
# session2: examples/server.py, with resource1), and the script stops after a
# while so it can run in tests.
#   micropython examples/client_nonblocking.py [PORT1 [PORT2 [SECONDS]]]
import sys
import time

from network import Coap
import _thread

PORT1 = int(sys.argv[1]) if len(sys.argv) > 1 else 5683
PORT2 = int(sys.argv[2]) if len(sys.argv) > 2 else 5684
SECONDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
running = True


# Callback handling the responses to the requests sent to a Coap Server
def response_callback(code, id_param, type_param, token, payload):
    print("Code: {}".format(code))
    # The ID can be used to pair the requests with the responses
    print("ID: {}".format(id_param))
    print("Type: {}".format(type_param))
    print("Token: {}".format(token))
    print("Payload: {}".format(payload))


# Thread handling the sockets
def coap_thread():
    while running:
        # Wait only 3 seconds for new packets then return back
        # In the next call it will also handle any new CoAp Client Sessions created during the previous call
        try:
            Coap.read(3000)
        except RuntimeError:
            break  # Coap.deinit() at the end of this script
        except Exception as e:
            # The response handler raised: that ended this read(). Report it
            # and go on (uncaught, it would end this thread).
            sys.print_exception(e)


# (No Wi-Fi to connect on the unix build.)

# Initialize Coap module, to be used only as a CoAp Client
Coap.init()

# Start a new thread which handles the CoAp, it is safe to start as soon as possible as the Coap.read() has timeout specified
# After this point it is safe to create new CoAp Client Sessions, it will be processed by the coap_thread correctly as Coap.read() is used with timeout value
_thread.start_new_thread(coap_thread, ())

# Register the response handler for the requests the module initiates as a Coap Client
Coap.register_response_handler(response_callback)

# Create a new client session on demand
session1 = Coap.new_client_session("127.0.0.1", PORT1)

# Request to a normal CoAp Server via CoAp Client Session: session1
id = session1.send_request(Coap.REQUEST_GET, uri_path=".well-known/core", token="session1")
print(id)
# Request to a normal CoAp Server via CoAp Client Session: session1
id = session1.send_request(Coap.REQUEST_GET, uri_path="time", token="session1")
print(id)

# Create again a new CoAp Client Session on demand, without restriction
session2 = Coap.new_client_session("127.0.0.1", PORT2)

# Request to a normal CoAp server via CoAp Client Session: session2
id = session2.send_request(Coap.REQUEST_GET, uri_path=".well-known/core")
print(id)
# Request to a normal CoAp server via CoAp Client Session: session2
id = session2.send_request(Coap.REQUEST_GET, uri_path="resource1")
print(id)
# Request to a normal CoAp server via CoAp Client Session: session2
id = session2.send_request(Coap.REQUEST_POST, uri_path="resource1", payload="new_value")
print(id)

time.sleep(SECONDS)
running = False
Coap.deinit()
print("done")
