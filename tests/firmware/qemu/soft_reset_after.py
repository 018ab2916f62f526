# The soft-reset check, second half (tests/firmware/run_qemu.py runs it after
# Ctrl-D at the REPL, following soft_reset_before.py): the module is
# uninitialised, init() works, and nothing from before the reset is left.
import coap

GET_KEPT = b"\x40\x01\x12\x35\xb4kept"  # CON GET /kept
GET_CORE = b"\x40\x01\x12\x36\xbb.well-known\x04core"  # CON GET /.well-known/core

try:
    coap.get_resource("kept")
except RuntimeError as e:
    assert str(e) == "Coap module has not been initialized!", e
else:
    raise AssertionError("still initialised after the soft reset")

coap.init()
assert coap.get_resource("kept") is None, "the resource survived"
assert coap.get_client_sessions() == [], "a session survived"
reply = coap._process(GET_KEPT)
assert reply[1] == 0x84, reply  # 4.04
reply = coap._process(GET_CORE)
assert reply[1] == 0x45 and b"\xff" not in reply, reply  # 2.05, no links
try:
    coap.init()
except RuntimeError as e:
    assert str(e) == "Coap module already initialized!", e
else:
    raise AssertionError("a second init() did not raise")
coap.deinit()
coap.init()
coap.deinit()
print("AFTER ok")
