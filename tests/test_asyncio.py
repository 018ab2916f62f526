# coap_asyncio (contract "asyncio"): serve() and request() in one asyncio
# program, against the module's own server and a silent UDP peer. The
# tests with libcoap's tools (a flood, 20 requests, idle CPU) are in
# tests/interop/test_asyncio.py.
import unittest

import coap
import coap_asyncio  # must import where asyncio cannot (no select: qemu)
import helpers as h
from helpers import deinit_quiet

try:
    import asyncio
except ImportError:
    asyncio = None

ETIMEDOUT = 110
ECONNRESET = 104
try:
    from errno import ETIMEDOUT, ECONNRESET  # noqa: F811
except ImportError:
    pass


def need_asyncio(tc):
    if asyncio is None or h.socket is None:
        tc.skipTest("no asyncio or no sockets on this port")


def run(coro):
    # A new loop each time, so a failed test leaves no task behind.
    try:
        return asyncio.run(coro)
    finally:
        asyncio.new_event_loop()


class TestImport(unittest.TestCase):
    def test_api(self):
        self.assertTrue(callable(coap_asyncio.serve))
        self.assertTrue(callable(coap_asyncio.request))


@h.requires(need_asyncio)
class TestAsyncio(unittest.TestCase):
    def setUp(self):
        if asyncio is None or not h.HAVE_SOCKET:
            return  # each test skips (h.requires)
        deinit_quiet()
        self.port = h.init_server()
        coap.add_resource("r", value=b"hello").callback(coap.REQUEST_GET, True)
        self.handler = h.Recorder()
        coap.register_response_handler(self.handler)

    def tearDown(self):
        deinit_quiet()

    def serving(self, body):
        # body() runs while a serve() task runs; returns body's result.
        async def main():
            server = asyncio.create_task(coap_asyncio.serve())
            try:
                return await body()
            finally:
                server.cancel()
                await asyncio.sleep_ms(0)
        return run(main())

    def test_request_to_self(self):
        s = coap.new_client_session("127.0.0.1", self.port)

        async def body():
            return await coap_asyncio.request(s, coap.REQUEST_GET, uri_path="r", token=b"tk")
        code, typ, token, payload = self.serving(body)
        self.assertEqual((code, typ, token, payload), (h.code(2, 5), 2, b"tk", b"hello"))
        self.assertEqual(self.handler.calls, [], "awaited responses never reach the handler")

    def test_many_at_once_generated_tokens(self):
        s = coap.new_client_session("127.0.0.1", self.port)
        n = 20

        async def body():
            return await asyncio.gather(*[coap_asyncio.request(s, coap.REQUEST_GET, uri_path="r")
                                          for _ in range(n)])
        got = self.serving(body)
        self.assertEqual(len(got), n)
        self.assertEqual(len(set(r[2] for r in got)), n, "a token of its own each")
        for r in got:
            self.assertEqual((r[0], r[3]), (h.code(2, 5), b"hello"))
        self.assertEqual(self.handler.calls, [])

    def test_sync_handler_keeps_working(self):
        s = coap.new_client_session("127.0.0.1", self.port)

        async def body():
            s.send_request(coap.REQUEST_GET, uri_path="r", token=b"sync")
            r = await coap_asyncio.request(s, coap.REQUEST_GET, uri_path="r", token=b"await")
            t0 = h.ticks()
            while not self.handler.calls and h.since(t0) < 2000:
                await asyncio.sleep_ms(10)
            return r
        r = self.serving(body)
        self.assertEqual(r[2], b"await")
        self.assertEqual([c[3] for c in self.handler.calls], [b"sync"])

    def test_read_and_serve_exclude_each_other(self):
        async def body():
            await asyncio.sleep_ms(10)
            with self.assertRaises(RuntimeError):
                coap.read(1)
            with self.assertRaises(RuntimeError):
                await coap_asyncio.serve()
        self.serving(body)
        coap.read(1)  # serve() ended: read() works again

    def test_read_in_another_thread_while_serving(self):
        h.need_thread(self)
        import _thread
        got = []

        def reader():
            try:
                coap.read(1)
                got.append("returned")
            except RuntimeError:
                got.append("RuntimeError")
            except Exception as e:
                got.append(repr(e))

        async def body():
            await asyncio.sleep_ms(10)
            _thread.start_new_thread(reader, ())
            t0 = h.ticks()
            while not got and h.since(t0) < 2000:
                await asyncio.sleep_ms(10)
        self.serving(body)
        self.assertEqual(got, ["RuntimeError"])

    def test_serve_while_another_thread_reads(self):
        h.need_thread(self)
        import _thread
        done = []

        def reader():
            try:
                coap.read(500)
            finally:
                done.append(1)
        _thread.start_new_thread(reader, ())
        h.sleep_ms(100)
        with self.assertRaises(RuntimeError):
            run(coap_asyncio.serve())
        t0 = h.ticks()
        while not done and h.since(t0) < 3000:
            h.sleep_ms(10)
        self.assertEqual(done, [1])
        coap.read(1)  # the failed serve() took nothing

    def test_handler_exception_ends_serve(self):
        s = coap.new_client_session("127.0.0.1", self.port)

        def boom(*args):
            raise ValueError("boom")
        coap.register_response_handler(boom)

        async def main():
            server = asyncio.create_task(coap_asyncio.serve())
            await asyncio.sleep_ms(10)
            s.send_request(coap.REQUEST_GET, uri_path="r")
            try:
                await asyncio.wait_for_ms(server, 2000)
            except ValueError as e:
                return str(e)
        self.assertEqual(run(main()), "boom")
        coap.read(1)  # serve() gave its role back

    def test_silent_peer_times_out(self):
        peer, pport = h.udp_peer()
        try:
            s = coap.new_client_session("127.0.0.1", pport)

            async def body():
                t0 = h.ticks()
                try:
                    await coap_asyncio.request(s, coap.REQUEST_GET, uri_path="x", timeout_ms=300)
                except OSError as e:
                    return e.args[0], h.since(t0)
                return None, h.since(t0)
            err, ms = self.serving(body)
            self.assertEqual(err, ETIMEDOUT)
            self.assertTrue(300 <= ms < 500, ms)
            self.assertEqual(coap._next_timeout(), -1, "the request was cancelled")
        finally:
            peer.close()

    def test_give_up_raises(self):
        # timeout_ms=None waits until the protocol gives up (scaled down here).
        h.ack_timeout(20)
        peer, pport = h.udp_peer()
        try:
            s = coap.new_client_session("127.0.0.1", pport)

            async def body():
                try:
                    await coap_asyncio.request(s, coap.REQUEST_GET, uri_path="x")
                except OSError as e:
                    return e.args[0]
            self.assertEqual(self.serving(body), ETIMEDOUT)
            self.assertEqual(h.drain(peer), 5, "the request and MAX_RETRANSMIT = 4 retransmissions")
            self.assertEqual(self.handler.calls, [])
        finally:
            peer.close()

    def test_cancelled_task_leaves_no_retransmissions(self):
        ack = h.ack_timeout(h.ACK_TIMEOUT_SHORT_MS)
        peer, pport = h.udp_peer()
        try:
            s = coap.new_client_session("127.0.0.1", pport)

            async def body():
                t = asyncio.create_task(coap_asyncio.request(s, coap.REQUEST_GET, uri_path="x", token=b"gone"))
                await asyncio.sleep_ms(ack * 3)  # the request and at least one retransmission
                t.cancel()
                await asyncio.sleep_ms(0)
                # Past the next retransmission there would have been: the
                # 3rd goes at 7 x the first timeout (at most 1.5 x ACK_TIMEOUT).
                await asyncio.sleep_ms(ack * 12)
                return t
            t = self.serving(body)
            self.assertTrue(t.done())
            sent = h.drain(peer)
            self.assertTrue(2 <= sent <= 3, sent)  # nothing after the cancel
            self.assertEqual(coap._next_timeout(), -1)
            # A late response is answered like an unknown one and reaches no handler.
            late = h.build(h.CON, h.code(2, 5), 0x4242, b"gone", payload=b"late")
            peer.sendto(late, h.sockaddr("127.0.0.1", self.port))
            self.serving(lambda: asyncio.sleep_ms(100))
            m, _ = h.recv_msg(peer, 1000)
            self.assertIsNotNone(m)
            self.assertEqual((m.type, m.mid), (h.RST, 0x4242))
            self.assertEqual(self.handler.calls, [])
        finally:
            peer.close()

    def test_reset_raises(self):
        peer, pport = h.udp_peer()
        try:
            s = coap.new_client_session("127.0.0.1", pport)

            async def body():
                t = asyncio.create_task(coap_asyncio.request(s, coap.REQUEST_GET, uri_path="x"))
                while True:  # the request reaches the peer, which rejects it
                    await asyncio.sleep_ms(10)
                    try:
                        data, addr = peer.recvfrom(2048)
                        break
                    except OSError:
                        pass
                m = h.parse(data)
                peer.sendto(h.build(h.RST, 0, m.mid), addr)
                try:
                    await t
                except OSError as e:
                    return e.args[0]
            peer.setblocking(False)
            self.assertEqual(self.serving(body), ECONNRESET)
        finally:
            peer.close()

    def test_deinit_ends_serve(self):
        async def main():
            server = asyncio.create_task(coap_asyncio.serve())
            await asyncio.sleep_ms(10)
            coap.deinit()
            t0 = h.ticks()
            while not server.done() and h.since(t0) < 3000:
                await asyncio.sleep_ms(10)
            return server.done()
        self.assertTrue(run(main()))


if __name__ == "__main__":
    unittest.main()
