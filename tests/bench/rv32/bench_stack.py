# Deepest C stack use of every module entry point, run inside the qemu RV32
# firmware by tests/bench/rv32_bench.py (make bench-rv32, make test).
#
# coap._stack(fn) paints the stack below its own frame, calls fn() and
# returns how far down the paint was overwritten. Each fn is a lambda making
# one call, so a figure is what one call from Python costs: the lambda's
# bytecode frame, MicroPython's call into the module, the shim and the
# engine. coap._repeat(1, ...) reports the engine calls alone, below the
# hook's frame. Prints MPCOAP_STACK <entry point> <bytes> lines.
import coap
import helpers as h

TOKEN = b"\x01\x02\x03\x04"
VALUE = b"hello world"
FIGURES = []


def measure(name, fn):
    FIGURES.append((name, coap._stack(fn)))


def engine(name, d, session=None):
    FIGURES.append((name, coap._repeat(1, d, session)))


def handler(code, mid, mtype, token, payload):
    pass


def main():
    measure("python:call", lambda: len(VALUE))  # the lambda and a builtin call: the floor
    measure("init", lambda: coap.init())
    measure("register_response_handler", lambda: coap.register_response_handler(handler))
    measure("add_resource", lambda: coap.add_resource("r", media_type=coap.MEDIATYPE_TEXT_PLAIN,
                                                      max_age=60, value=VALUE))
    r = coap.get_resource("r")
    r.callback(coap.REQUEST_GET, True)
    measure("get_resource", lambda: coap.get_resource("r"))
    measure("resource.add_attribute", lambda: r.add_attribute("title", "a \"quoted\" title"))
    measure("resource.value", lambda: r.value())
    measure("resource.value(set)", lambda: r.value(VALUE))
    measure("resource.callback", lambda: r.callback(coap.REQUEST_GET, True))
    e = coap.add_resource("etag", media_type=coap.MEDIATYPE_TEXT_PLAIN, value=b"0", etag=True)
    e.add_attribute("rt", "temperature")
    e.callback(h.ALL_METHODS, True)
    coap.add_resource("d", value=b"x").callback(coap.REQUEST_DELETE, True)

    get = h.request(h.GET, "r", mid=1, token=TOKEN)
    put = h.request(h.PUT, "etag", mid=2, token=TOKEN, options=[(h.CONTENT_FORMAT, b"")], payload=b"23.5")
    post = h.request(h.POST, "etag", mid=3, token=TOKEN, options=[(h.CONTENT_FORMAT, b"")], payload=b"24")
    missing = h.request(h.GET, "missing", mid=4, token=TOKEN)
    wkc = h.request(h.GET, ".well-known/core", mid=5, token=TOKEN, mtype=h.NON)
    delete = h.request(h.DELETE, "d", mid=6, token=TOKEN)
    measure("_process:get", lambda: coap._process(get))
    measure("_process:get(duplicate)", lambda: coap._process(get))
    measure("_process:put_etag", lambda: coap._process(put))
    measure("_process:post_etag", lambda: coap._process(post))
    measure("_process:not_found", lambda: coap._process(missing))
    measure("_process:well_known_core", lambda: coap._process(wkc))
    measure("_process:delete", lambda: coap._process(delete))
    measure("_process:garbage", lambda: coap._process(b"\x40\x01\x00\x07\xd1\xff"))
    measure("read", lambda: coap.read(1))

    measure("new_client_session", lambda: coap.new_client_session("192.0.2.1"))
    s = coap.get_client_sessions()[0]
    measure("get_client_sessions", lambda: coap.get_client_sessions())
    measure("session.get_details", lambda: s.get_details())
    coap._transmit()  # capture mode: requests wait for _transmit(), nothing is sent
    measure("session.send_request", lambda: s.send_request(coap.REQUEST_PUT, uri_path="a/b?c=d",
                                                           content_format=0, payload=VALUE, token=TOKEN))
    measure("_transmit", lambda: coap._transmit())
    mid = s.send_request(coap.REQUEST_GET, token=TOKEN)
    coap._transmit()
    resp = h.build(h.ACK, h.C205, mid, token=TOKEN, options=[(h.CONTENT_FORMAT, b"")], payload=VALUE)
    measure("_process:response", lambda: coap._process(resp))  # handler: an empty function

    engine("engine:receive:get", h.request(h.GET, "r", mid=0x100, token=TOKEN))
    engine("engine:receive:put_etag", h.request(h.PUT, "etag", mid=0x200, token=TOKEN,
                                                options=[(h.CONTENT_FORMAT, b"")], payload=b"25"))
    engine("engine:receive:not_found", h.request(h.GET, "missing", mid=0x300, token=TOKEN))
    engine("engine:receive:well_known_core", h.request(h.GET, ".well-known/core", mid=0x400,
                                                       token=TOKEN, mtype=h.NON))
    engine("engine:request+transmit+receive:client", resp, s)

    # Observe (RFC 7641): a registration, a notification, and the client's
    # side (an answer that establishes an observation, a notification, the
    # deregistration).
    o = coap.add_resource("o", media_type=coap.MEDIATYPE_TEXT_PLAIN, value=VALUE, observable=True)
    o.callback(coap.REQUEST_GET, True)
    register = h.request(h.GET, "o", mid=0x500, token=TOKEN, options=[(h.OBSERVE, b"")])
    measure("_process:observe_register", lambda: coap._process(register))
    o.value(b"changed")
    measure("_transmit:notification", lambda: coap._transmit())
    mid = s.send_request(coap.REQUEST_GET, uri_path="o", token=b"ob", observe=True)
    coap._transmit()
    first = h.build(h.ACK, h.C205, mid, token=b"ob", options=[(h.OBSERVE, b"\x05")], payload=VALUE)
    measure("_process:observe_answer", lambda: coap._process(first))
    notice = h.build(h.CON, h.C205, 0x600, token=b"ob", options=[(h.OBSERVE, b"\x06")], payload=VALUE)
    measure("_process:notification", lambda: coap._process(notice))
    measure("session.cancel_observe", lambda: s.cancel_observe(b"ob"))
    coap._transmit()

    # Block-wise (RFC 7959): a Block1 transfer's first block (its block
    # supplied) and its last (the value stored from the transfer's bytes).
    first, last = [h.request(h.PUT, "etag", mid=0x700 + i, token=TOKEN, options=[(h.BLOCK1, h.block(i, i == 0, 2))],
                             payload=b"x" * (64 - 54 * i)) for i in (0, 1)]
    measure("_process:block1_first", lambda: coap._process(first))
    measure("_process:block1_last", lambda: coap._process(last))

    measure("remove_client_session", lambda: coap.remove_client_session("192.0.2.1"))
    measure("remove_resource", lambda: coap.remove_resource("r"))
    measure("deinit", lambda: coap.deinit())
    for name, used in FIGURES:
        print("MPCOAP_STACK %s %d" % (name, used))
    print("MPCOAP_STACK done")


main()
