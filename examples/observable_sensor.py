# An observable sensor (RFC 7641): clients that GET /temp with Observe (for
# example `coap-client -s 30 -m get coap://HOST/temp`, or aiocoap's
# observation) get every new reading pushed to them. The readings here are
# made up; on a board, read a real sensor instead.
#   micropython examples/observable_sensor.py [PORT [READINGS [INTERVAL_MS]]]
import sys
import time

from network import Coap

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 5683
READINGS = int(sys.argv[2]) if len(sys.argv) > 2 else 30
INTERVAL_MS = int(sys.argv[3]) if len(sys.argv) > 3 else 1000

# On a board: connect to Wi-Fi first and pass its address.
Coap.init("127.0.0.1", port=PORT)
temp = Coap.add_resource("temp", media_type=Coap.MEDIATYPE_TEXT_PLAIN, value="20.0",
                         max_age=5, observable=True)
temp.add_attribute("rt", "temperature-c")
temp.callback(Coap.REQUEST_GET, True)
print("serving /temp on port", PORT)

reading = 200
for _ in range(READINGS):
    # read() answers requests and sends the notifications that value()
    # queued; it returns after INTERVAL_MS (or after handling datagrams).
    end = time.ticks_add(time.ticks_ms(), INTERVAL_MS)
    while time.ticks_diff(end, time.ticks_ms()) > 0:
        try:
            Coap.read(max(1, time.ticks_diff(end, time.ticks_ms())))
        except Exception as e:
            sys.print_exception(e)
    reading += 3
    temp.value("%d.%d" % (reading // 10, reading % 10))  # every observer is notified
    print("temp", temp.value())
Coap.read(200)  # the last notifications
Coap.deinit()
print("done")
