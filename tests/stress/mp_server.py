# The module's server for the stress tests, run by the unix build of MicroPython.
#
# usage: micropython mp_server.py PORT [mem WARMUP WINDOW WINDOWS]
#
# Resources: /bench (GET, the 136-byte bench payload), /etag (GET/PUT/POST,
# ETag on, value b"0"), /ctl (GET/PUT). The loop counts the datagrams read()
# handled. When idle (read(100) returned 0) it obeys a command PUT into /ctl:
#   b"report": gc.collect(), then print "REPORT <handled> <mem_free> <mem_alloc>"
#   b"quit":   print "BYE <handled>", deinit and exit.
# In "mem" mode it first serves WARMUP datagrams, then measures WINDOWS windows
# of WINDOW datagrams each with the GC disabled, and prints
# "MEM <bytes allocated> <datagrams handled>" before serving on as above.
import gc
import sys

from network import Coap

port = int(sys.argv[1])
here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
with open(here + "/../bench/payload.txt", "rb") as f:
    payload = f.read()

Coap.init("127.0.0.1", port=port)
bench = Coap.add_resource("bench", max_age=196607, value=payload)
bench.callback(Coap.REQUEST_GET, True)
etag = Coap.add_resource("etag", value=b"0", etag=True)
etag.callback(Coap.REQUEST_GET | Coap.REQUEST_PUT | Coap.REQUEST_POST, True)
ctl = Coap.add_resource("ctl", value=b"0")
ctl.callback(Coap.REQUEST_GET | Coap.REQUEST_PUT, True)

read = Coap.read
handled = 0

if len(sys.argv) > 2 and sys.argv[2] == "mem":
    warmup, window, windows = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    print("ready")
    while handled < warmup:
        handled += read()
    total_bytes = 0
    total_n = 0
    for _ in range(windows):
        gc.collect()
        gc.disable()
        before = gc.mem_alloc()
        n = 0
        while n < window:
            n += read()
        after = gc.mem_alloc()
        gc.enable()
        total_bytes += after - before
        total_n += n
    handled += total_n
    print("MEM", total_bytes, total_n)
else:
    print("ready")

idle = b"0"
while True:
    n = read(100)
    handled += n
    if n:
        continue
    cmd = ctl.value()
    if cmd == idle:
        continue
    ctl.value(idle)
    if cmd == b"report":
        gc.collect()
        print("REPORT", handled, gc.mem_free(), gc.mem_alloc())
    elif cmd == b"quit":
        print("BYE", handled)
        break
Coap.deinit()
