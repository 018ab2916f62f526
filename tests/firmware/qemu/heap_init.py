# GC heap that coap.init() keeps, and what each item costs, on the running
# firmware or unix build. Prints one line per measurement
# (`MPCOAP_HEAP name bytes`) for tests/firmware/run_qemu.py and
# tests/bench/memory_items.py. Per-item figures are averages over N items,
# measured after gc.collect() with gc.mem_alloc(), so they include the
# Python objects (CoapResource, CoapClientSession) and the GC's rounding.
import gc
import coap

N = 40


def alloc():
    gc.collect()
    return gc.mem_alloc()


def per_item(before):
    return (alloc() - before + N // 2) // N


before = alloc()
coap.init()
after_init = alloc()
coap.deinit()
after_deinit = alloc()
print("MPCOAP_HEAP init", after_init - before)
print("MPCOAP_HEAP after_deinit", after_deinit - before)

# Per item. Names are made before each measurement, so only the module's
# storage and objects count.
coap.init()
uris = ["r%03d" % i for i in range(N)]
addrs = ["192.0.2.%d" % (i + 1) for i in range(N)]
big = b"v" * 1000
mid = b"v" * 200
res = ses = r = s = value_1000 = None
t = start = 0
start = alloc()
t = alloc()
res = [coap.add_resource(u, value=b"") for u in uris]
print("MPCOAP_HEAP resource", per_item(t))
t = alloc()
for r in res:
    r.value(mid)
print("MPCOAP_HEAP value_200", per_item(t))
t = alloc()
for r in res:
    r.value(big)
value_1000 = per_item(t)
print("MPCOAP_HEAP value_1000_over_200", value_1000)
t = alloc()
for r in res:
    r.add_attribute("rt", "temp")
    r.add_attribute("if", "sensor")
print("MPCOAP_HEAP two_attributes", per_item(t))
t = alloc()
ses = [coap.new_client_session(a) for a in addrs]
print("MPCOAP_HEAP session", per_item(t))
coap._transmit()  # capture mode: requests are queued, nothing is sent
t = alloc()
for s in ses:
    s.send_request(coap.REQUEST_GET, uri_path="a", token=b"tokn")
print("MPCOAP_HEAP request", per_item(t))
for u in uris:
    coap.remove_resource(u)
for a in addrs:
    coap.remove_client_session(a)
res = ses = r = s = None
print("MPCOAP_HEAP after_remove", alloc() - start)
coap.deinit()
