# The API page's "Usage Example of CoAp Server", for the MicroPython unix
# build: the WLAN lines are replaced by a loopback address, and the script
# stops after a while so it can run in tests.
#   micropython examples/server.py [PORT [SECONDS]]
import sys
import time

from network import Coap
import _thread

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 5683
SECONDS = int(sys.argv[2]) if len(sys.argv) > 2 else 30


# Thread handling the CoAp Server
def coap_thread():
    while True:
        # Call Coap.read() without specyfing timeout value, in this way it handled all requests sent to the CoAp Server silently
        try:
            Coap.read()
        except RuntimeError:
            break  # Coap.deinit() at the end of this script
        except Exception as e:
            # The response handler raised: that ended this read(). Report it
            # and go on serving (uncaught, it would end this thread).
            sys.print_exception(e)


# Instead of connecting to Wi-Fi: serve on loopback
address = "127.0.0.1"

# Initialize Coap module as CoAp Server
Coap.init(address, port=PORT, service_discovery=True)

# Add a resource with default value and plain text content format
r = Coap.add_resource("resource1", media_type=Coap.MEDIATYPE_TEXT_PLAIN, value="default_value")
# Add an attribute to the resource
r.add_attribute("title", "resource1")
# Add an attribute to the resource
r.add_attribute("ct", str(Coap.MEDIATYPE_TEXT_PLAIN))
# Configure the possible operations on the resource
r.callback(Coap.REQUEST_GET | Coap.REQUEST_POST | Coap.REQUEST_PUT, True)

# Add a resource without default value, XML content format and E-Tag enabled
r = Coap.add_resource("resource2", media_type=Coap.MEDIATYPE_APP_XML, etag=True)
# Configure the possible operations on the resource
r.callback(Coap.REQUEST_GET | Coap.REQUEST_POST | Coap.REQUEST_PUT | Coap.REQUEST_DELETE, True)

# Start a new thread which handles the CoAp Server
_thread.start_new_thread(coap_thread, ())

print("serving on {}:{} for {} s".format(address, PORT, SECONDS))
time.sleep(SECONDS)
print("resource1 =", Coap.get_resource("resource1").value())
# deinit() wakes the blocked Coap.read(); the thread then ends with "not initialised"
Coap.deinit()
print("done")
