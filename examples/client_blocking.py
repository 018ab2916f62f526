# The API page's "Usage Example of CoAp Client in blocking mode", for the
# MicroPython unix build: the WLAN lines are replaced by loopback addresses,
# the server is a local CoAP server (e.g. libcoap's coap-server), and the
# script stops after a while so it can run in tests.
#   micropython examples/client_blocking.py [SERVER_PORT [OWN_PORT [SECONDS]]]
import sys
import time

from network import Coap
import _thread

SERVER_PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 5683
OWN_PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 5684
SECONDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5


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
    while True:
        # Using Coap.read() without timeout value means that if no new packet arrives to any of the client sessions registered before this is called, then this function will never return
        try:
            Coap.read()
        except RuntimeError:
            break  # Coap.deinit() at the end of this script
        except Exception as e:
            # The response handler raised: that ended this read(). Report it
            # and go on serving (uncaught, it would end this thread).
            sys.print_exception(e)


# Instead of connecting to Wi-Fi: our own address on loopback
address = "127.0.0.1"

# Initialize Coap module
Coap.init(address, port=OWN_PORT, service_discovery=True)

# Register the response handler for the requests the module initiates as a Coap Client
Coap.register_response_handler(response_callback)

# (With this module, sessions may be created at any time, also while Coap.read() blocks.)
session = Coap.new_client_session("127.0.0.1", SERVER_PORT)

# Start a new thread which calls Coap.read() which will block until no new packet arrives to the socket
_thread.start_new_thread(coap_thread, ())

# Request to a normal CoAp Server
id = session.send_request(Coap.REQUEST_GET, uri_path=".well-known/core", payload="payload", token="token1", include_options=True)
print(id)
# Request to a normal CoAp Server
id = session.send_request(Coap.REQUEST_GET, uri_path="time", payload="payload", token="token2", include_options=True)
print(id)
# Request to a normal CoAp Server
id = session.send_request(Coap.REQUEST_PUT, uri_path="time",content_format=Coap.MEDIATYPE_TEXT_PLAIN, payload="ABCD", token="token3", include_options=True)
print(id)
# Request to a Dish Telemetry server, payload is the AMQP message, token is maximum 8 bytes containing the IMEI or IMSI id, no options should be present
imei = int('359738090028145').to_bytes(8, 'big')
id = session.send_request(Coap.REQUEST_GET, payload="amqp://artemis:5672/dish.app1.FjhBV78.telemetry", token=imei, include_options=False)
print(id)

time.sleep(SECONDS)
Coap.deinit()
print("done")
