# Instructions per request, run inside the qemu RV32 firmware under
# `qemu-system-riscv32 -icount shift=0` by tests/bench/rv32_bench.py (make
# bench-rv32). There QEMU's virtual clock advances one nanosecond per
# instruction and the CLINT counter that time.ticks_cpu() reads runs at
# 10 MHz, so one tick is 100 instructions and every figure is an exact,
# repeatable instruction count (to +-1: the loop starts at any phase of a tick).
#
# For each scenario two figures (MPCOAP_BENCH <scenario> <part> <insns>):
#   engine  the engine calls alone: coap._repeat(N, ...) minus coap._repeat(0, ...)
# Scenarios: get, put_etag, not_found, well_known_core (NON), block2 (block 17
# of a 4096-byte value in 64-byte blocks), client (a GET and its response).
#   hook    the whole private hook from Python: a loop of N calls minus the
#           same loop with the calls left out
# divided by N. The GC is disabled around each timed loop (a collection just
# before); every request carries its own Message ID, so none is a duplicate.
#
# The loops allocate only what the hooks themselves allocate (the reply),
# and everything long-lived is made before init(), so that the GC heap is in
# the same state for every scenario and every run.
import gc
import time

import coap
import helpers as h

N = 400
WARMUP = 64
INSNS_PER_TICK = 100
TOKEN = b"\x01\x02\x03\x04"
VALUE = b"hello world"  # the 11-byte text resource
CF_TEXT = [(h.CONTENT_FORMAT, b"")]

# name, request (Message ID 0; the loops set it), expected response code
SCENARIOS = [
    ("get", bytearray(h.request(h.GET, "r", token=TOKEN, mid=0)), h.C205),
    ("put_etag", bytearray(h.request(h.PUT, "etag", token=TOKEN, mid=0, options=CF_TEXT,
                                     payload=b"23.5")), h.C204),
    ("not_found", bytearray(h.request(h.GET, "missing", token=TOKEN, mid=0)), h.C404),
    ("well_known_core", bytearray(h.request(h.GET, ".well-known/core", token=TOKEN, mid=0,
                                            mtype=h.NON)), h.C205),
]
# The piggybacked response to the client's GET (Message ID set per round).
RESPONSE = bytearray(h.build(h.ACK, h.C205, 0, token=TOKEN, options=CF_TEXT, payload=VALUE))
HANDLED = [0]


def handler(code, mid, mtype, token, payload):
    HANDLED[0] += 1


def timed(fn, a, b, c):
    gc.collect()
    gc.disable()
    t0 = time.ticks_cpu()
    fn(a, b, c)
    t1 = time.ticks_cpu()
    gc.enable()
    return time.ticks_diff(t1, t0)


def per_request(t_work, t_empty, n):
    return round((t_work - t_empty) * INSNS_PER_TICK / n)


def repeat(n, d, session, repeat=coap._repeat):
    repeat(n, d, session)


def engine_figure(d, session=None):
    repeat(WARMUP, d, session)
    return per_request(timed(repeat, N, d, session), timed(repeat, 0, d, session), N)


def server_work(d, base, n, process=coap._process):
    for i in range(base, base + n):
        d[2] = i >> 8
        d[3] = i & 0xFF
        process(d)


def server_empty(d, base, n):
    for i in range(base, base + n):
        d[2] = i >> 8
        d[3] = i & 0xFF


def client_work(s, resp, n, transmit=coap._transmit, process=coap._process, GET=coap.REQUEST_GET):
    send = s.send_request
    for _ in range(n):
        send(GET, token=TOKEN)
        d = transmit()
        resp[2] = d[2]
        resp[3] = d[3]
        process(resp)


def client_empty(s, resp, n, d=RESPONSE):
    send = s.send_request
    for _ in range(n):
        resp[2] = d[2]
        resp[3] = d[3]


def server(name, d, base):
    # Message IDs from `base` for the engine loop, from base + 0x800 for the hook.
    d[2], d[3] = base >> 8, 0
    print("MPCOAP_BENCH %s engine %d" % (name, engine_figure(d)))
    base += 0x800
    server_work(d, base, WARMUP)
    base += WARMUP
    t_work = timed(server_work, d, base, N)
    print("MPCOAP_BENCH %s hook %d" % (name, per_request(t_work, timed(server_empty, d, base, N), N)))


def client(s):
    print("MPCOAP_BENCH client engine %d" % engine_figure(RESPONSE, s))
    coap._transmit()  # capture mode: requests wait for _transmit()
    client_work(s, RESPONSE, WARMUP)
    before = HANDLED[0]
    t_work = timed(client_work, s, RESPONSE, N)
    assert HANDLED[0] - before == N, "every response reaches the handler"
    print("MPCOAP_BENCH client hook %d" % per_request(t_work, timed(client_empty, s, RESPONSE, N), N))


def main():
    coap.init()
    coap.register_response_handler(handler)
    coap.add_resource("r", media_type=coap.MEDIATYPE_TEXT_PLAIN, value=VALUE).callback(coap.REQUEST_GET, True)
    coap.add_resource("etag", media_type=coap.MEDIATYPE_TEXT_PLAIN, value=b"0",
                      etag=True).callback(coap.REQUEST_GET | coap.REQUEST_PUT, True)
    s = coap.new_client_session("192.0.2.1")  # _process's peer when none is given
    # One check of each answer before timing it (Message IDs 0xff00 on).
    for i, (name, d, want) in enumerate(SCENARIOS):
        d[2], d[3] = 0xFF, i
        got = h.parse(coap._process(d)).code
        assert got == want, (name, got, want)
    for i, (name, d, _) in enumerate(SCENARIOS):
        server(name, d, 0x1000 * (i + 1))
    # A Block2 block (RFC 7959): block 17 of 64 bytes of a 4096-byte value
    # (64-byte blocks: the hook's loop keeps every reply with the GC off).
    # The resource is added after the scenarios above, so their figures
    # (the discovery document's in particular) stay comparable.
    coap.add_resource("big", value=b"B" * 4096).callback(coap.REQUEST_GET, True)
    d = bytearray(h.request(h.GET, "big", token=TOKEN, mid=0, options=[(h.BLOCK2, h.block(17, False, 2))]))
    d[2], d[3] = 0xFF, 0xB2
    m = h.parse(coap._process(d))
    assert (m.code, len(m.payload), h.block_of(m)) == (h.C205, 64, (17, True, 2)), m
    server("block2", d, 0x6000)
    client(s)
    coap.deinit()
    print("MPCOAP_BENCH done")


main()
