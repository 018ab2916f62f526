# The module's server under a flood, for test_read_flood.py; run by the unix build.
#
# usage: micropython mp_read_flood.py PORT HOLE_PORT ACK_TIMEOUT_MS SECONDS
#
# Serves GET /f on 127.0.0.1:PORT and sends one CON GET to HOLE_PORT (where
# nothing answers) with ACK_TIMEOUT shortened to ACK_TIMEOUT_MS, then calls
# read(100) in a loop for SECONDS. Besides the flood from other processes,
# it floods itself: a session to its own port whose response handler sends
# the next GET, so that a datagram is always waiting when read() looks,
# however the machine schedules the processes. Prints "READY <ack_timeout>" before the
# loop, "GIVEUP <ms after sending>" when the request gives up, and at the end
# "READS <count> <longest ms> <datagrams handled> <reads that handled none>"
# and "DONE".
import sys
import time

from network import Coap

port, hole, ack_timeout, seconds = (int(a) for a in sys.argv[1:5])
READ_MS = 100

Coap.init("127.0.0.1", port=port)
Coap.add_resource("f", value="x").callback(Coap.REQUEST_GET, True)
gave_up = []


def handler(code, mid, mtype, token, payload):
    if token == b"self":
        # (a full socket buffer may drop a self-request until it gives up)
        if looping:
            self_session.send_request(Coap.REQUEST_GET, uri_path="f", token="self")
    elif mtype == Coap.TIMEOUT:
        gave_up.append(time.ticks_ms())


Coap.register_response_handler(handler)
print("READY", Coap._set_ack_timeout(ack_timeout))
session = Coap.new_client_session("127.0.0.1", hole)
self_session = Coap.new_client_session("127.0.0.1", port)
looping = True
self_session.send_request(Coap.REQUEST_GET, uri_path="f", token="self")
t0 = time.ticks_ms()
sent_at = time.ticks_ms()
session.send_request(Coap.REQUEST_GET, uri_path="x", token="g")
reads = longest = handled = empty = 0
while time.ticks_diff(time.ticks_ms(), t0) < seconds * 1000:
    a = time.ticks_ms()
    n = Coap.read(READ_MS)
    d = time.ticks_diff(time.ticks_ms(), a)
    reads += 1
    handled += n
    empty += n == 0
    longest = max(longest, d)
    if gave_up:
        print("GIVEUP", time.ticks_diff(gave_up.pop(), sent_at))
looping = False
print("READS", reads, longest, handled, empty)
print("DONE")
Coap.deinit()
