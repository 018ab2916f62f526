# MicroPython side of the client interop tests.
# usage: micropython mp_client.py SPEC.json   (a file: MicroPython's unix
# port aborts on a command-line argument longer than 255 bytes)
# spec: {"host": str, "port": int, "bind": str|null, "bind_port": int,
#        "requests": [{"method": int, ...send_request kwargs}],
#        (token_hex / payload_hex: bytes given in hex)
#        "expect": int, "wait_ms": int, "ack_timeout_ms": int}
# ack_timeout_ms shortens ACK_TIMEOUT through the private knob
# coap._set_ack_timeout (docs/internals.md).
# Prints "SENT <mid>" per request, "RESP <code> <mid> <type> <token hex> <payload hex>"
# per handler call, and "DONE <n>" at the end.
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
    calls.append(1)
    print("RESP", code, mid, mtype, hexs(token), hexs(payload))


if spec.get("bind"):
    coap.init(spec["bind"], port=spec.get("bind_port", 5683))
else:
    coap.init()
print("TIMEOUT_CONST", coap.TIMEOUT)
if "ack_timeout_ms" in spec:
    print("ACK_TIMEOUT", coap._set_ack_timeout(spec["ack_timeout_ms"]))
coap.register_response_handler(handler)
session = coap.new_client_session(spec["host"], spec["port"])
for req in spec["requests"]:
    method = req.pop("method")
    if "token_hex" in req:
        req["token"] = bytes.fromhex(req.pop("token_hex"))
    if "payload_hex" in req:
        req["payload"] = bytes.fromhex(req.pop("payload_hex"))
    print("SENT", session.send_request(method, **req))

expect = spec.get("expect", len(spec["requests"]))
t0 = time.ticks_ms()
while len(calls) < expect and time.ticks_diff(time.ticks_ms(), t0) < spec.get("wait_ms", 10000):
    coap.read(100)
print("DONE", len(calls))
coap.deinit()
