# The module as an Observe client (RFC 7641), for tests/interop/test_observe_etsi.py.
# usage: micropython mp_observer.py SPEC.json
# spec: {"host": str, "port": int,            the server to observe
#        "bind_port": int|null,               init("127.0.0.1", port=bind_port) (a fixed
#                                             source port, e.g. to "reboot" the client)
#        "uri": str|null,                     observe it (send_request(observe=True));
#                                             null: register nothing, only read
#        "token_hex": str|null,               the registration's token (null: the module's)
#        "cancel_after": int|null,            cancel_observe(token) once the handler ran
#                                             this many times
#        "wait_ms": int,                      give up waiting for cancel_after after this
#        "linger_ms": int,                    read on this long after the cancel (or the wait)
#        "ack_timeout_ms": int|null}          coap._set_ack_timeout (docs/internals.md)
# Prints "SENT <mid>", "RESP <code> <mid> <type> <token hex> <payload hex>" per
# handler call, "CANCEL <result>" after cancel_observe, "DONE <n>" at the end.
import sys
import json
import time

import coap

with open(sys.argv[1]) as f:
    spec = json.load(f)


def hexs(b):
    return "".join("%02x" % x for x in b) or "-"


calls = []


def handler(code, mid, mtype, token, payload):
    calls.append(token)
    print("RESP", code, mid, mtype, hexs(token), hexs(payload))


if spec.get("bind_port"):
    coap.init("127.0.0.1", port=spec["bind_port"])
else:
    coap.init()
if spec.get("ack_timeout_ms"):
    print("ACK_TIMEOUT", coap._set_ack_timeout(spec["ack_timeout_ms"]))
coap.register_response_handler(handler)
session = coap.new_client_session(spec["host"], spec["port"])
token = None
if spec.get("uri"):
    kw = {"uri_path": spec["uri"], "observe": True}
    if spec.get("token_hex") is not None:
        kw["token"] = bytes.fromhex(spec["token_hex"])
    print("SENT", session.send_request(coap.REQUEST_GET, **kw))
print("READY")


def read_for(ms, until=None):
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < ms:
        if until is not None and until():
            return
        coap.read(20)


after = spec.get("cancel_after")
if after:
    read_for(spec.get("wait_ms", 10000), lambda: len(calls) >= after)
    if len(calls) >= after:
        print("CANCEL", session.cancel_observe(calls[0]))
        print("CANCEL_AGAIN", session.cancel_observe(calls[0]))
read_for(spec.get("linger_ms", 1000))
print("DONE", len(calls))
coap.deinit()
