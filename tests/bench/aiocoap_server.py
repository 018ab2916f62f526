"""aiocoap server for `make bench`: one resource with the same payload as the module's.

usage: python3 aiocoap_server.py PORT
Serves GET /bench with the 136-byte text that libcoap's coap-server serves at /
(tests/bench/payload.txt) and Max-Age 196607, as libcoap does. Prints "ready"
once bound.
"""

import asyncio
import os
import sys

import aiocoap
import aiocoap.resource as resource

PAYLOAD = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "payload.txt"), "rb").read()


class Bench(resource.Resource):
    async def render_get(self, request):
        return aiocoap.Message(payload=PAYLOAD, content_format=0, max_age=196607)


async def main(port):
    root = resource.Site()
    root.add_resource(["bench"], Bench())
    await aiocoap.Context.create_server_context(root, bind=("127.0.0.1", port))
    print("ready", flush=True)
    await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
