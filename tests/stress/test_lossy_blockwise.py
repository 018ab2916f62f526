"""Block-wise transfer over a lossy link: aiocoap GETs a 10 KB value (Block2)
and PUTs a 10 KB payload (Block1) to the module's server through relay.py,
which drops 25% of datagrams each way and duplicates 10%, with the cap that
RFC 7252 retransmission needs (never a 4th lost attempt in a row of one
exchange). Both complete byte-exact, and the PUT is applied exactly once
(the resource's ETag advances by one): blocks retransmitted or duplicated
by the relay are answered again from the server's deduplication and never
applied twice.

The peer is aiocoap, whose ACK_TIMEOUT is shortened to ACK_TIMEOUT_S
through its documented TransportTuning (per message, inherited by the
block requests it derives): the behaviour under test is recovery from loss,
not the 2 s scale. The module's own ACK_TIMEOUT knob does not apply: the
server answers piggybacked and retransmits nothing. The wall time and the
relay's counts are printed.
"""

import asyncio
import json
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cpython"))
import support as S  # noqa: E402  (tests/cpython/support.py)

try:
    import aiocoap
    from aiocoap import Code, Message
    from aiocoap.numbers.constants import TransportTuning
except ImportError:  # pragma: no cover
    aiocoap = None

SEED = int(os.environ.get("STRESS_SEED", "7959"))
SIZE = 10 * 1024
ACK_TIMEOUT_S = 0.25
REMOTE_BUDGET_FACTOR = 2

SCRIPT = S.PATTERN_SRC + "SIZE = %d\nREMOTE_BUDGET_FACTOR = %d\n" % (SIZE, REMOTE_BUDGET_FACTOR) + r'''
import sys
import coap

coap.init("127.0.0.1", port=int(sys.argv[1]), remote_budget=REMOTE_BUDGET_FACTOR * coap.VALUE_MAX)
r = coap.add_resource("large", value=pattern(SIZE))
r.callback(coap.REQUEST_GET, True)
r = coap.add_resource("update", value=b"", etag=True)
r.callback(coap.REQUEST_GET | coap.REQUEST_PUT, True)
r = None
print("ready")
while True:
    coap.read(0)
'''

if aiocoap is not None:
    class Fast(TransportTuning):
        ACK_TIMEOUT = ACK_TIMEOUT_S


@unittest.skipIf(aiocoap is None, "aiocoap not installed")
class LossyBlockwise(unittest.TestCase):
    def setUp(self):
        fd, script = tempfile.mkstemp(suffix=".py", prefix="mpcoap_lossy_blk_")
        with os.fdopen(fd, "w") as f:
            f.write(SCRIPT)
        self.addCleanup(os.unlink, script)
        self.server_port = S.free_port()
        self.server = S.Proc([S.micropython(required=True), script, str(self.server_port)], env=S.mp_env())
        self.addCleanup(self.server.stop)
        self.server.expect("ready", 15)
        self.relay = S.Proc([sys.executable, os.path.join(S.STRESS, "relay.py"), str(self.server_port),
                             "--seed", str(SEED), "--loss", "0.25", "--dup", "0.1", "--cap", "3"])
        self.addCleanup(self.relay.stop)
        self.relay_port = int(self.relay.expect("ready", 10).split()[1])

    def test_10k_get_and_put_over_25_percent_loss(self):
        want = S.pattern(SIZE)
        payload = S.pattern(SIZE, 1)

        async def go():
            ctx = await aiocoap.Context.create_client_context()
            try:
                async def req(port, code, path, body=b""):
                    msg = Message(code=code, uri="coap://127.0.0.1:%d/%s" % (port, path), payload=body,
                                  transport_tuning=Fast())
                    return await asyncio.wait_for(ctx.request(msg).response, 60)
                before = await req(self.server_port, Code.GET, "update")
                t0 = time.monotonic()
                got = await req(self.relay_port, Code.GET, "large")
                t1 = time.monotonic()
                put = await req(self.relay_port, Code.PUT, "update", payload)
                t2 = time.monotonic()
                after = await req(self.server_port, Code.GET, "update")
                return before, got, put, after, t1 - t0, t2 - t1
            finally:
                await ctx.shutdown()

        before, got, put, after, get_s, put_s = asyncio.run(go())
        self.relay.p.terminate()
        stats = json.loads(self.relay.expect("STATS", 10).split(" ", 1)[1])
        etag0, etag1 = (int.from_bytes(m.opt.etag or b"", "big") for m in (before, after))
        print("\nlossy block-wise: GET of %d bytes in %.1f s, PUT of %d bytes in %.1f s; ETag %d -> %d; relay %s"
              % (SIZE, get_s, SIZE, put_s, etag0, etag1, json.dumps(stats)), file=sys.stderr)
        self.assertEqual(got.code, Code.CONTENT)
        self.assertEqual(len(got.payload), SIZE)
        self.assertTrue(got.payload == want, "the Block2 GET differs")
        self.assertEqual(put.code, Code.CHANGED, put)
        self.assertEqual(after.code, Code.CONTENT)
        self.assertEqual(len(after.payload), SIZE)
        self.assertTrue(after.payload == payload, "the value stored by the Block1 PUT differs")
        self.assertEqual(etag1 - etag0, 1, "the Block1 PUT applied exactly once")
        # The run really was lossy both ways: a dropped answer means that
        # the server saw that block again.
        self.assertGreater(stats["dropped_to_server"], 0)
        self.assertGreater(stats["dropped_to_client"], 0)


if __name__ == "__main__":
    unittest.main()
