# MicroPython side of the client Observe interop tests.
# usage: micropython mp_observe_client.py HOST PORT URI OBSERVE_MS AFTER_MS [TOKEN_HEX]
# Registers an observation of URI on HOST:PORT (observe=True; with the given
# token, or none: the module makes one), prints each handler call for
# OBSERVE_MS, then cancels it with cancel_observe(token) and prints what
# still arrives during AFTER_MS.
# Prints "RESP <ms> <code> <type> <token hex> <payload>" per handler call,
# the payload in hex up to 64 bytes, else as "<length>:<first byte hex>:<1 if
# every byte is the first>",
# "CANCEL <result>" and "DONE".
import sys
import time

import coap

host, port, uri = sys.argv[1], int(sys.argv[2]), sys.argv[3]
observe_ms, after_ms = int(sys.argv[4]), int(sys.argv[5])
token = bytes.fromhex(sys.argv[6]) if len(sys.argv) > 6 else None
t0 = time.ticks_ms()
seen = []


def hexs(b):
    return "".join("%02x" % x for x in b) or "-"


def handler(code, mid, mtype, tok, payload):
    seen.append(bytes(tok))
    if len(payload) > 64:
        same = payload == payload[:1] * len(payload)
        payload = "%d:%02x:%d" % (len(payload), payload[0], same)
    else:
        payload = hexs(payload)
    print("RESP", time.ticks_diff(time.ticks_ms(), t0), code, mtype, hexs(tok), payload)


def pump(ms):
    end = time.ticks_add(time.ticks_ms(), ms)
    while time.ticks_diff(end, time.ticks_ms()) > 0:
        coap.read(50)


coap.init()
coap.register_response_handler(handler)
session = coap.new_client_session(host, port)
session.send_request(coap.REQUEST_GET, uri_path=uri, observe=True, token=token)
pump(observe_ms)
# The token: ours, or the one the module made (every call carries it).
tok = token if token is not None else (seen[0] if seen else b"")
print("CANCEL", session.cancel_observe(tok), session.cancel_observe(tok))
print("CANCELLED")
pump(after_ms)
print("DONE")
coap.deinit()
