# The module's client for the lossy-link test, run by the unix build of MicroPython.
#
# usage: micropython mp_client.py PORT[,PORT...] SESSIONS COUNT [ACK_TIMEOUT_MS]
#
# Sends COUNT confirmable PUTs to /etag at 127.0.0.1, spread round-robin
# over SESSIONS client sessions, session i to the i-th PORT (round-robin),
# each session one request at a time (the next is sent when the handler has
# seen the previous one's response or give-up). Sessions to one port share
# its one CON in flight (NSTART = 1 per destination endpoint).
# Prints one line per finished request ("R <session> <mid> <code> <type>") and
# at the end "DONE <delivered> <duplicates> <timeouts> <other> <seconds>".
# A delivery for a message ID that is not outstanding counts as a duplicate.
# ACK_TIMEOUT_MS shortens ACK_TIMEOUT through the private knob
# Coap._set_ack_timeout (docs/internals.md); it prints "ACK_TIMEOUT <ms>".
import sys
import time

from network import Coap

ports = [int(p) for p in sys.argv[1].split(",")]
nsessions = int(sys.argv[2])
count = int(sys.argv[3])

events = []


def handler(code, mid, mtype, token, payload):
    events.append((code, mid, mtype, token))


Coap.init()
if len(sys.argv) > 4:
    print("ACK_TIMEOUT", Coap._set_ack_timeout(int(sys.argv[4])))
Coap.register_response_handler(handler)
sessions = [Coap.new_client_session("127.0.0.1", ports[i % len(ports)]) for i in range(nsessions)]
outstanding = {}  # mid -> (session index, token)
sent = 0
delivered = duplicates = timeouts = other = 0
t0 = time.ticks_ms()


def send(i):
    global sent
    token = bytes((i, sent >> 8 & 255, sent & 255))
    mid = sessions[i].send_request(Coap.REQUEST_PUT, uri_path="etag", payload=b"put %d" % sent, token=token)
    outstanding[mid] = (i, token)
    sent += 1


for i in range(nsessions):
    if sent < count:
        send(i)

while outstanding:
    Coap.read(1000)
    while events:
        code, mid, mtype, token = events.pop(0)
        if mid not in outstanding:
            duplicates += 1
            print("DUP", mid, code, mtype)
            continue
        i, tok = outstanding.pop(mid)
        delivered += 1
        if token != tok:
            other += 1
            print("BADTOKEN", mid, token, tok)
        if code == 0 and mtype == Coap.TIMEOUT:
            timeouts += 1
        elif code != 68:  # 2.04 Changed
            other += 1
        print("R", i, mid, code, mtype)
        if sent < count:
            send(i)

# Late duplicates still in flight would show up within a short wait.
deadline = time.ticks_add(time.ticks_ms(), 300)
while time.ticks_diff(deadline, time.ticks_ms()) > 0:
    Coap.read(100)
    while events:
        code, mid, mtype, token = events.pop(0)
        duplicates += 1
        print("DUP", mid, code, mtype)

secs = time.ticks_diff(time.ticks_ms(), t0) / 1000
print("DONE", delivered, duplicates, timeouts, other, secs)
Coap.deinit()
