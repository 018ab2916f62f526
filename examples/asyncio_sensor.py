# A sensor server and a client in one asyncio program (docs/api.md,
# "coap_asyncio"), for the MicroPython unix build over loopback: a task
# updates a temperature resource every second, the server task answers
# requests, and a client task asks this server (and, if PORT2 is given,
# another one such as libcoap's coap-server for /time) without blocking
# the others. /temp is observable (RFC 7641): an observer elsewhere, e.g.
# `coap-client -s 10 -m get coap://127.0.0.1:PORT/temp`, gets each new
# reading pushed as soon as the sensor task stores it (serve() sends the
# notifications). The module's own client cannot observe yet, so the
# client task here asks every second.
#   micropython examples/asyncio_sensor.py [PORT [SECONDS [PORT2]]]
import sys

import asyncio
import coap
import coap_asyncio

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 5683
SECONDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
PORT2 = int(sys.argv[3]) if len(sys.argv) > 3 else None


async def sensor(temp):
    t = 20.0
    while True:
        t += 0.1
        temp.value("%.1f" % t)
        await asyncio.sleep(1)


async def client():
    me = coap.new_client_session("127.0.0.1", PORT)
    other = coap.new_client_session("127.0.0.1", PORT2) if PORT2 else None
    for _ in range(SECONDS):
        code, type_, token, payload = await coap_asyncio.request(
            me, coap.REQUEST_GET, uri_path="temp", timeout_ms=2000)
        print("temp: code {} payload {}".format(code, payload))
        if other is not None:
            try:
                r = await coap_asyncio.request(other, coap.REQUEST_GET, uri_path="time", timeout_ms=2000)
                print("time: code {} payload {}".format(r[0], r[3]))
            except OSError as e:
                print("time: no answer ({})".format(e))
        await asyncio.sleep(1)


async def main():
    coap.init("127.0.0.1", port=PORT)
    temp = coap.add_resource("temp", media_type=coap.MEDIATYPE_TEXT_PLAIN, value="20.0", observable=True)
    temp.callback(coap.REQUEST_GET, True)
    server = asyncio.create_task(coap_asyncio.serve())
    asyncio.create_task(sensor(temp))
    print("serving on port", PORT)
    await client()
    server.cancel()
    coap.deinit()
    print("done")


asyncio.run(main())
