# read(timeout): argument checks, return count, waiting, timeouts.
import unittest

import coap
import helpers as h
from helpers import deinit_quiet, raises, raises_mentioning


class TestReadArgs(unittest.TestCase):
    def setUp(self):
        deinit_quiet()
        coap.init()

    def tearDown(self):
        deinit_quiet()

    def test_negative_timeout(self):
        raises_mentioning(self, ValueError, "timeout", coap.read, -1)
        raises_mentioning(self, ValueError, "timeout", coap.read, -1000)

    def test_bad_types(self):
        raises(self, TypeError, coap.read, "10")
        raises(self, TypeError, coap.read, 1, 2)

    def test_timeout_without_sockets_returns_zero(self):
        # (also on a port without a socket module: read() then just waits)
        # client-only, no request sent yet: nothing to wait on but the clock
        t0 = h.ticks()
        self.assertEqual(coap.read(200), 0)
        dt = h.since(t0)
        self.assertTrue(150 <= dt < 1500, dt)

    def test_timeout_keyword(self):
        self.assertEqual(coap.read(timeout=50), 0)


@h.requires(h.need_socket)
class TestReadServer(unittest.TestCase):
    def setUp(self):
        deinit_quiet()
        if not h.HAVE_SOCKET:
            return  # each test skips itself (h.requires)
        self.port = h.init_server()
        self.peer = h.Peer()
        self.to = h.sockaddr("127.0.0.1", self.port)

    def tearDown(self):
        deinit_quiet()
        if hasattr(self, "peer"):
            self.peer.close()

    def ping(self):
        mid = h.next_mid()
        self.peer.sock.sendto(h.build(h.CON, 0, mid), self.to)
        return mid

    def test_timeout_elapses(self):
        t0 = h.ticks()
        self.assertEqual(coap.read(300), 0)
        dt = h.since(t0)
        self.assertTrue(280 <= dt < 2000, dt)

    def test_counts_all_waiting_datagrams(self):
        mids = [self.ping() for _ in range(3)]
        h.sleep_ms(100)
        self.assertEqual(coap.read(1000), 3)
        got = []
        for _ in range(3):
            m, _ = self.peer.expect(500)
            got.append((m.type, m.mid))
        self.assertEqual(got, [(h.RST, x) for x in mids])

    def test_zero_returns_once_something_handled(self):
        mid = self.ping()
        h.sleep_ms(50)
        t0 = h.ticks()
        self.assertEqual(coap.read(0), 1)
        self.assertTrue(h.since(t0) < 1000)
        self.assertEqual(self.peer.expect()[0].mid, mid)

    def test_exhausted_heap_raises_memoryerror_and_keeps_the_datagram(self):
        # contract: read() on an exhausted heap raises MemoryError (recvfrom
        # itself allocates) and changes nothing; the datagram stays queued
        try:
            import micropython

            micropython.heap_lock
        except (ImportError, AttributeError):
            self.skipTest("needs micropython.heap_lock")
        mid = self.ping()
        h.sleep_ms(50)
        micropython.heap_lock()
        try:
            coap.read(200)
            raised = None
        except MemoryError as e:
            raised = e
        finally:
            micropython.heap_unlock()
        self.assertIsInstance(raised, MemoryError)
        # Nothing was handled and nothing answered...
        self.assertEqual(self.peer.expect(100), (None, None))
        # ...and the next read() handles it: read() is usable again too.
        self.assertEqual(coap.read(1000), 1)
        m, _ = self.peer.expect()
        self.assertEqual((m.type, m.mid), (h.RST, mid))

    def test_default_timeout_is_zero(self):
        self.ping()
        h.sleep_ms(50)
        self.assertEqual(coap.read(), 1)

    def test_returns_after_first_datagram_not_at_timeout(self):
        h.need_thread(self)
        import _thread

        def later():
            h.sleep_ms(300)
            self.ping()
        _thread.start_new_thread(later, ())
        t0 = h.ticks()
        n = coap.read(5000)
        dt = h.since(t0)
        self.assertEqual(n, 1)
        self.assertTrue(200 <= dt < 2500, dt)

    def test_read_from_the_handler_names_the_reentrant_call(self):
        errors = []

        def handler(code, mid, mtype, token, payload):
            try:
                coap.read(10)
            except RuntimeError as e:
                errors.append(h.msg_of(e))
        coap.register_response_handler(handler)
        s = coap.new_client_session("127.0.0.1", self.peer.port)
        s.send_request(coap.REQUEST_GET, token="re")
        req, addr = self.peer.expect()
        self.peer.ack(req, addr)
        self.assertTrue(h.read_until(lambda: errors, 2000))
        self.assertIn("inside read()", errors[0])
        self.assertFalse("another thread" in errors[0], errors[0])
        # read() still works afterwards
        self.ping()
        self.assertEqual(coap.read(1000), 1)

    def test_oversize_request_gets_4_13_and_is_counted(self):
        coap.add_resource("big", value="v").callback(coap.REQUEST_PUT, True)
        for n in (1150, 1500):
            mid = h.next_mid()
            d = h.request(h.PUT, "big", mid=mid, token=b"os", payload=b"x" * n)
            self.peer.sock.sendto(d, self.to)
            self.assertEqual(coap.read(1000), 1)
            m, _ = self.peer.expect()
            self.assertEqual((m.type, m.code, m.mid, m.token), (h.ACK, h.C413, mid, b"os"))
            self.assertTrue(len(d) > h.message_max())
            # Size1: what one message with this header, token and Uri-Path
            # can carry (a message less the request's bytes before the payload)
            self.assertEqual(h.to_uint(m.opt(h.SIZE1)), h.message_max() - (len(d) - n))
        self.assertEqual(coap.get_resource("big").value(), b"v")

    def test_read_zero_waits_through_retransmissions(self):
        # a pending retransmission neither wakes read(0) up nor stops it
        h.need_thread(self)
        h.long_timers(self)
        import _thread
        rec = h.Recorder()
        coap.register_response_handler(rec)
        s = coap.new_client_session("127.0.0.1", self.peer.port)
        state = {}

        def server():
            first, addr = self.peer.expect(2000)
            again, addr = self.peer.expect(4000)
            state["again"] = again
            if again is not None:
                self.peer.ack(again, addr, payload=b"late")
            else:
                # unblock read(0) anyway so the test can fail cleanly
                self.peer.sock.sendto(h.build(h.CON, 0, 1), self.to)
        _thread.start_new_thread(server, ())
        mid = s.send_request(coap.REQUEST_GET, token="r0")
        t0 = h.ticks()
        n = coap.read(0)
        dt = h.since(t0)
        self.assertIsNotNone(state.get("again"), "no retransmission")
        self.assertEqual(state["again"].mid, mid)
        self.assertEqual(n, 1)
        self.assertTrue(dt >= 1900, "read(0) returned after %d ms" % dt)
        self.assertEqual(rec.calls, [(h.C205, mid, h.ACK, b"r0", b"late")])


unittest.main()
