# The soft-reset check, first half (tests/firmware/run_qemu.py runs it in the
# raw REPL): the module in use, holding what a soft reset must take away. The
# host then types Ctrl-D at the REPL and runs soft_reset_after.py.
import coap

GET_KEPT = b"\x40\x01\x12\x34\xb4kept"  # CON GET /kept

coap.init()
kept = coap.add_resource("kept", value="before the reset", etag=True)
kept.callback(coap.REQUEST_GET | coap.REQUEST_PUT, True)
kept.add_attribute("rt", "kept")
coap.register_response_handler(lambda code, mid, mtype, token, payload: None)
session = coap.new_client_session("192.0.2.1")
reply = coap._process(GET_KEPT)
assert reply[1] == 0x45 and reply.endswith(b"before the reset"), reply  # 2.05
print("BEFORE ok")
