# coap_asyncio: serve and send CoAP from asyncio programs (docs/api.md,
# "coap_asyncio"). Frozen into the firmware images and the unix builds.
#
# asyncio is imported on first use, so that importing this module works on
# ports without `select` (the qemu test firmware). It relies on asyncio's
# internals (core._io_queue, core._task_queue, Task.ph_key), the way
# asyncio's own stream code does; checked with MicroPython 1.26.1 to 1.28.0.

import coap

# Datagrams handled per wake of a socket, so that a flood cannot starve the
# other tasks (each pass is also cut after the module's drain time).
BATCH = 8
# serve() sleeps at most this long when no timer is due, so that timers set
# outside this module (a blocking send_request()) are served at last then.
_IDLE_MS = 1000

_RST = 3  # the message type of an RST (RFC 7252), as the handler gets it
_timer = None  # the task running serve()'s timer loop, while it sleeps


def _core():
    import asyncio

    return asyncio, asyncio.core


def _wake_now():
    _wake(True)


def _wake(now=False):
    # Brings serve()'s sleep forward to the next due timer (or to now): it
    # sleeps on asyncio's task queue, so it is moved there, as Task.cancel()
    # moves a sleeping task.
    t = _timer
    if t is None:
        return
    asyncio, core = _core()
    if t is core.cur_task or t.data is not None:
        return
    n = 0 if now else coap._next_timeout()
    if n < 0:
        return
    from time import ticks_ms, ticks_add, ticks_diff

    due = ticks_add(ticks_ms(), n)
    if ticks_diff(t.ph_key, due) > 0:
        core._task_queue.remove(t)
        core._task_queue.push(t, due)


# A task per socket (asyncio's poller wakes one task per readable socket):
# waits until the socket is readable, then handles at most `batch` datagrams.
def _reader(sock, batch, failed):
    asyncio, core = _core()
    try:
        while True:
            yield core._io_queue.queue_read(sock)
            if coap._step(batch) < 0:
                break
            _wake()
    except Exception as e:  # from the response handler: serve() raises it
        failed.append(e)
    _wake(True)


async def serve(batch=BATCH):
    global _timer
    asyncio, core = _core()
    # RuntimeError while read() (or another serve()) runs. value(x) in this
    # thread calls the waker: its Observe notifications go out at once.
    coap._serve(True, _wake_now)
    readers = {}
    failed = []
    try:
        while not failed:
            socks = coap._sockets()
            for s in socks:
                if id(s) not in readers:
                    readers[id(s)] = asyncio.create_task(_reader(s, batch, failed))
            if coap._step(0) < 0:  # the timers only; -1: deinit()
                break
            n = coap._next_timeout()
            _timer = core.cur_task
            try:
                await asyncio.sleep_ms(_IDLE_MS if n < 0 or n > _IDLE_MS else n)
            finally:
                _timer = None
        if failed:
            raise failed[0]
    finally:
        for t in readers.values():
            t.cancel()
        coap._serve(False)


async def request(session, method, *, uri_path=None, payload=None, content_format=-1, token=None, timeout_ms=None):
    asyncio, core = _core()
    if token is None:
        from os import urandom

        token = urandom(8)
    token = bytes(token)
    done = asyncio.Event()
    got = []

    def answer(code, mid, type_, token_, payload_):
        got.append((code, type_, token_, payload_))
        done.set()

    coap._await(session, token, answer)
    try:
        session.send_request(method, uri_path=uri_path, payload=payload, content_format=content_format, token=token)
        _wake(True)  # serve() looks at the new timer, and at a new (client) socket
        if timeout_ms is None:
            await done.wait()
        else:
            try:
                await asyncio.wait_for_ms(done.wait(), timeout_ms)
            except asyncio.TimeoutError:
                pass
    finally:
        # Forget it; cancel it if still pending (timeout, cancelled task).
        coap._await(session, token, None)
    from errno import ETIMEDOUT, ECONNRESET

    if not got or got[0][1] == coap.TIMEOUT:  # no answer in time, or the protocol gave up
        raise OSError(ETIMEDOUT)
    if got[0][1] == _RST:
        raise OSError(ECONNRESET)
    return got[0]
