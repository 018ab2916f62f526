# The MicroPython side of tests/interop/test_asyncio.py: coap_asyncio in an
# asyncio program, on 127.0.0.1.
#   mp_asyncio.py ticker PORT    server on PORT and a task ticking every
#       TICK_MS; when /stop is PUT to something else than b"0", prints the
#       ticks' lateness: "TICKS n P99 ms MAX ms"
#   mp_asyncio.py many PORT N    N concurrent awaited GETs to a server on PORT
#       (libcoap's), client only: "DONE n codes"
#   mp_asyncio.py idle PORT S    a server task that nobody talks to, S seconds
import sys
import time

import asyncio
import coap
import coap_asyncio

TICK_MS = 10
mode, port = sys.argv[1], int(sys.argv[2])


async def ticker(stop):
    late = []
    t0 = time.ticks_ms()
    k = 0
    print("READY")
    while stop.value() == b"0":
        k += 1
        due = time.ticks_add(t0, TICK_MS * k)
        await asyncio.sleep_ms(max(0, time.ticks_diff(due, time.ticks_ms())))
        late.append(time.ticks_diff(time.ticks_ms(), due))
    late.sort()
    print("TICKS", len(late), "P99", late[len(late) * 99 // 100], "MAX", late[-1])


async def many(n):
    s = coap.new_client_session("127.0.0.1", port)
    rs = await asyncio.gather(*[coap_asyncio.request(s, coap.REQUEST_GET, uri_path="time", timeout_ms=60000)
                                for _ in range(n)])
    print("DONE", len(rs), " ".join(str(r[0]) for r in rs))


async def main():
    if mode == "many":
        coap.init()
    else:
        coap.init("127.0.0.1", port=port)
        coap.add_resource("r", value=b"x").callback(coap.REQUEST_GET, True)
    server = asyncio.create_task(coap_asyncio.serve())
    if mode == "ticker":
        stop = coap.add_resource("stop", value=b"0")
        stop.callback(coap.REQUEST_PUT, True)
        await ticker(stop)
    elif mode == "many":
        await many(int(sys.argv[3]))
    else:
        print("READY")
        await asyncio.sleep(int(sys.argv[3]))
    server.cancel()
    print("END")


asyncio.run(main())
