# Threads stress, run by both unix builds (with and without a GIL).
#
# usage: micropython mp_threads.py PORT ROUNDS
#
# A reader thread sits in Coap.read() (no timeout) the whole time. The main thread, ROUNDS
# times: adds a resource, changes its value, creates a client session to this
# very server, GETs the resource through it (the request leaves from the server
# socket, the reader thread serves it and then delivers the response to the
# handler), waits for the response and checks it, then removes the session and
# the resource. Every 8th round it also removes a session and a resource while
# a request is still in flight (nothing to check but "no crash"). It bumps
# /counter every round; an outside client (the test) reads /counter and
# /stable meanwhile.
# Then phase 2: the reader blocks in read() with no timeout and deinit() from
# the main thread must wake it.
# Prints "DONE <rounds> <delivered> <unexpected> <reads> <seconds>" and
# "WOKE <ms>" for phase 2.
import sys
import time
import _thread

from network import Coap

port = int(sys.argv[1])
rounds = int(sys.argv[2])
GET_PUT = Coap.REQUEST_GET | Coap.REQUEST_PUT

lock = _thread.allocate_lock()
responses = {}
state = {"stop": False, "reader_done": False, "reads": 0, "unexpected": 0, "error": None}


def handler(code, mid, mtype, token, payload):
    with lock:
        if token in responses:
            state["unexpected"] += 1
        responses[token] = (code, payload)


def reader():
    try:
        while not state["stop"]:
            n = Coap.read()  # no timeout: returns only when something arrived
            state["reads"] += n
    except Exception as e:
        state["error"] = repr(e)
    state["reader_done"] = True


Coap.init("127.0.0.1", port=port)
Coap.register_response_handler(handler)
stable = Coap.add_resource("stable", value=b"stable")
stable.callback(Coap.REQUEST_GET, True)
counter = Coap.add_resource("counter", value=0)
counter.callback(Coap.REQUEST_GET, True)
print("ready")

_thread.start_new_thread(reader, ())
t0 = time.ticks_ms()
delivered = 0
for i in range(rounds):
    uri = "r%d" % (i % 7)
    res = Coap.add_resource(uri, value=i)
    res.callback(GET_PUT, True)
    want = b"v%d" % i
    res.value(want)
    s = Coap.new_client_session("127.0.0.1", port)
    token = i.to_bytes(4, "big")
    s.send_request(Coap.REQUEST_GET, uri_path=uri, token=token)
    if i % 8 == 7:
        # Tear down with the request in flight; its response may or may not come.
        Coap.remove_client_session("127.0.0.1", port)
        Coap.remove_resource(uri)
        counter.value(i)
        continue
    deadline = time.ticks_add(time.ticks_ms(), 5000)
    while True:
        with lock:
            got = responses.pop(token, None)
        if got is not None:
            break
        if time.ticks_diff(deadline, time.ticks_ms()) < 0:
            print("LOST round", i, uri)
            sys.exit(1)
        time.sleep_ms(1)
    if got != (69, want):
        print("WRONG round", i, got, want)
        sys.exit(1)
    delivered += 1
    Coap.remove_client_session("127.0.0.1", port)
    Coap.remove_resource(uri)
    if res.value() is not None:
        print("STALE resource object still has a value", i)
        sys.exit(1)
    counter.value(i)

state["stop"] = True
# Wake the reader with a datagram (an empty ACK, which the server ignores).
import socket

poke = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server_addr = socket.getaddrinfo("127.0.0.1", port)[0][-1]
deadline = time.ticks_add(time.ticks_ms(), 5000)
while not state["reader_done"]:
    poke.sendto(b"\x60\x00\x00\x00", server_addr)
    time.sleep_ms(10)
    if time.ticks_diff(deadline, time.ticks_ms()) < 0:
        print("STUCK reader")
        sys.exit(1)
poke.close()
secs = time.ticks_diff(time.ticks_ms(), t0) / 1000
if state["error"]:
    print("READER", state["error"])
    sys.exit(1)
if Coap.get_client_sessions():
    print("LEFTOVER sessions", Coap.get_client_sessions())
    sys.exit(1)
print("DONE", rounds, delivered, state["unexpected"], state["reads"], secs)

# Phase 2: deinit() wakes a read() blocked without timeout in another thread.
state["reader_done"] = False
woke = []


def blocked_reader():
    # A stray datagram from the outside client may still end a read() early:
    # only a return after deinit() started counts.
    while True:
        try:
            Coap.read()
        except Exception as e:
            woke.append(repr(e))
            break
        if state["deinit"]:
            break
    woke.append(time.ticks_ms())


state["deinit"] = False
_thread.start_new_thread(blocked_reader, ())
time.sleep_ms(300)
state["deinit"] = True
t1 = time.ticks_ms()
Coap.deinit()
deadline = time.ticks_add(t1, 3000)
while not woke and time.ticks_diff(deadline, time.ticks_ms()) > 0:
    time.sleep_ms(5)
if not woke:
    print("STUCK read() not woken by deinit()")
    sys.exit(1)
print("WOKE", time.ticks_diff(woke[-1], t1), woke[:-1])
Coap.init("127.0.0.1", port=port)
Coap.deinit()
print("END")
