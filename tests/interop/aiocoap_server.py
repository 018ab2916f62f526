"""A small aiocoap server used as the peer of the module's client.

usage: python3 aiocoap_server.py PORT
/echo, /a/b   answer with a JSON description of the request they received
/slow         answers after 1.5 s (aiocoap sends an empty ACK first: a separate response)
/empty        answers 2.04 without payload
/store        GET: the bytes stored (initially STORE_INIT, 10 KB: served with
              Block2 by aiocoap); PUT: stores the payload (reassembled from
              Block1 by aiocoap), 2.04
/store-puts   GET: how many PUTs /store applied
/counter      observable: "N", N + 1 every 300 ms
/big-obs      observable: big_value(N) (BIG_LEN bytes, more than one
              1024-byte block: aiocoap notifies with Block2), N + 1 every 500 ms
Prints READY once bound.
"""

import asyncio
import json
import sys

import aiocoap
import aiocoap.resource as resource
from aiocoap import Code


class Echo(resource.Resource):
    async def render(self, request):
        o = request.opt
        desc = {
            "method": str(request.code),
            "mtype": str(request.mtype),
            "uri": request.get_request_uri(),
            "query": list(o.uri_query),
            "cf": None if o.content_format is None else int(o.content_format),
            "host": o.uri_host,
            "port": o.uri_port,
            "payload": request.payload.decode("latin-1"),
        }
        code = Code.CONTENT if request.code == Code.GET else Code.CHANGED
        if request.code == Code.DELETE:
            code = Code.DELETED
        return aiocoap.Message(code=code, payload=json.dumps(desc).encode())


class Slow(resource.Resource):
    async def render_get(self, request):
        await asyncio.sleep(1.5)
        return aiocoap.Message(code=Code.CONTENT, payload=b"slow")


STORE_INIT = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(10 * 1024))


class Store(resource.Resource):
    def __init__(self):
        super().__init__()
        self.value, self.puts = STORE_INIT, 0

    async def render_get(self, request):
        return aiocoap.Message(code=Code.CONTENT, payload=self.value)

    async def render_put(self, request):
        self.value = request.payload
        self.puts += 1
        return aiocoap.Message(code=Code.CHANGED)


class Count(resource.Resource):
    def __init__(self, store):
        super().__init__()
        self.store = store

    async def render_get(self, request):
        return aiocoap.Message(code=Code.CONTENT, payload=str(self.store.puts).encode())


class Ticking(resource.ObservableResource):
    """Observable; its state N grows by one every `period` s once tick() runs.
    aiocoap (0.4.17) sends an observable resource's answers and
    notifications whole, however large; above BLOCK bytes this resource
    cuts the block asked for itself (the first one by default), and each
    notification is the first block of the new state (RFC 7959 2.6), with
    an ETag that tells the state."""

    BLOCK = 1024

    def __init__(self, period, render):
        super().__init__()
        self.n, self.period, self.render_n = 0, period, render

    async def tick(self):
        while True:
            await asyncio.sleep(self.period)
            self.n += 1
            m = self.message(None)
            self.updated_state(m if m.opt.block2 is not None else None)

    async def needs_blockwise_assembly(self, request):
        # The blocks are cut here (message()): aiocoap's own Block2 cache
        # only knows answers to requests, not notifications, and answers a
        # block request for a notification with 4.08.
        return False

    def message(self, block2):
        m = aiocoap.Message(code=Code.CONTENT, payload=self.render_n(self.n), etag=b"%d" % self.n)
        if block2 is None and len(m.payload) <= self.BLOCK:
            return m
        num, szx = (block2.block_number, block2.size_exponent) if block2 is not None else (0, 6)
        return m._extract_block(num, szx, self.BLOCK)

    async def render_get(self, request):
        return self.message(request.opt.block2)


BIG_LEN = 3000


def big_value(n):
    """BIG_LEN bytes that tell n (its decimal, then bytes that depend on n
    and the offset, so a shifted or mixed block shows)."""
    head = b"%06d:" % n
    return head + bytes((i * 31 + n * 7) & 0xFF for i in range(BIG_LEN - len(head)))


class Empty(resource.Resource):
    async def render(self, request):
        return aiocoap.Message(code=Code.CHANGED)


async def main(port):
    root = resource.Site()
    root.add_resource([".well-known", "core"],
                      resource.WKCResource(root.get_resources_as_linkheader))
    root.add_resource(["echo"], Echo())
    root.add_resource(["a", "b"], Echo())
    root.add_resource(["slow"], Slow())
    root.add_resource(["empty"], Empty())
    store = Store()
    root.add_resource(["store"], store)
    root.add_resource(["store-puts"], Count(store))
    counter = Ticking(0.3, lambda n: b"%d" % n)
    big = Ticking(0.5, big_value)
    root.add_resource(["counter"], counter)
    root.add_resource(["big-obs"], big)
    tasks = [asyncio.create_task(counter.tick()), asyncio.create_task(big.tick())]  # noqa: F841
    await aiocoap.Context.create_server_context(root, bind=("127.0.0.1", port))
    print("READY", port, flush=True)
    await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
