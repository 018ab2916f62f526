# Threads: read() blocking in a _thread while the main thread works with the
# module; one reader at a time; deinit() waking a blocked read().
import unittest

import coap
import helpers as h
from helpers import deinit_quiet, raises

try:
    import _thread
except ImportError:
    _thread = None

# Stack of the reader thread. esp32 gives a thread 4 KiB + 1 KiB of margin
# by default (ports/esp32/mpthreadport.c, MP_THREAD_DEFAULT_STACK_SIZE); the
# reader runs read() with its socket calls and the response handler, and
# the module's deepest entry point alone, estimated for Xtensa, takes over
# half of that (BENCHMARKS.md, "Stack"). Twice the default leaves room for
# lwIP's socket calls and the Python frames. Other ports raise a smaller
# size to their minimum (unix: PTHREAD_STACK_MIN).
READER_STACK = 8 * 1024


class Reader:
    """Runs coap.read(timeout) in a loop in a thread until stopped/deinit."""

    def __init__(self, timeout=0):
        self.timeout = timeout
        self.stop = False
        self.done = False
        self.returns = []
        self.error = None
        self.ident = None
        previous = _thread.stack_size(READER_STACK)
        try:
            _thread.start_new_thread(self.run, ())
        finally:
            _thread.stack_size(previous)

    def run(self):
        self.ident = _thread.get_ident()
        try:
            while not self.stop:
                self.returns.append(coap.read(self.timeout))
        except Exception as e:
            self.error = e
        self.done = True

    def wait_done(self, ms=3000):
        t0 = h.ticks()
        while not self.done and h.since(t0) < ms:
            h.sleep_ms(10)
        return self.done


def wait_for(pred, ms=3000):
    t0 = h.ticks()
    while not pred():
        if h.since(t0) > ms:
            return False
        h.sleep_ms(10)
    return True


@h.requires(h.need_thread, h.need_socket)
class TestThreads(unittest.TestCase):
    def setUp(self):
        deinit_quiet()
        self.reader = None
        self.peer = None
        if not (h.HAVE_THREAD and h.HAVE_SOCKET):
            return  # each test skips itself (h.requires)
        self.peer = h.Peer()

    def tearDown(self):
        if self.reader is not None:
            self.reader.stop = True
        deinit_quiet()
        if self.reader is not None:
            self.reader.wait_done()
        if self.peer is not None:
            self.peer.close()

    def test_deinit_wakes_blocked_read(self):
        h.init_server()
        self.reader = Reader(0)
        h.sleep_ms(200)
        self.assertFalse(self.reader.done)
        self.assertEqual(self.reader.returns, [])
        t0 = h.ticks()
        coap.deinit()
        self.assertTrue(self.reader.wait_done(2000), "read() still blocked after deinit")
        self.assertTrue(h.since(t0) < 2000)
        # the blocked read() returned (a count), then the next call saw "not initialised"
        self.assertEqual(len(self.reader.returns), 1)
        self.assertIs(type(self.reader.returns[0]), int)
        self.assertTrue(isinstance(self.reader.error, RuntimeError), repr(self.reader.error))
        self.reader = None
        coap.init()  # ready again

    def test_deinit_wakes_blocked_read_client_only(self):
        coap.init()
        s = coap.new_client_session("127.0.0.1", self.peer.port)
        s.send_request(coap.REQUEST_GET)  # creates the client socket
        self.reader = Reader(0)
        h.sleep_ms(200)
        coap.deinit()
        self.assertTrue(self.reader.wait_done(2000))
        self.reader = None

    def test_second_reader_raises(self):
        h.init_server()
        self.reader = Reader(0)
        h.sleep_ms(200)
        raises(self, RuntimeError, coap.read, 10)
        raises(self, RuntimeError, coap.read, 0)
        self.assertFalse(self.reader.done)

    def test_gil_released_while_waiting(self):
        h.init_server()
        self.reader = Reader(0)
        h.sleep_ms(100)
        # the main thread keeps running Python code and calling the module
        n = 0
        t0 = h.ticks()
        while h.since(t0) < 300:
            n += 1
            coap.get_resource("x")
        self.assertTrue(n > 100, "main thread starved: %d iterations" % n)

    def test_work_while_read_blocks(self):
        port = h.init_server()
        rec = h.Recorder()
        idents = []

        def handler(*args):
            idents.append(_thread.get_ident())
            rec(*args)
        coap.register_response_handler(handler)
        r = coap.add_resource("val", value="v0", etag=True)
        r.callback(coap.REQUEST_GET, True)
        self.reader = Reader(0)
        h.sleep_ms(100)
        # sessions created after read() started blocking, with no restriction
        for i in range(3):
            s = coap.new_client_session("127.0.0.1", self.peer.port)
            mid = s.send_request(coap.REQUEST_GET, uri_path="q%d" % i, token="t%d" % i)
            m, addr = self.peer.expect()
            self.assertIsNotNone(m, "request %d not sent" % i)
            self.assertEqual((m.mid, m.token), (mid, ("t%d" % i).encode()))
            self.peer.ack(m, addr, payload=("p%d" % i).encode())
            self.assertTrue(wait_for(lambda: len(rec.calls) == i + 1), "response %d not delivered" % i)
            self.assertEqual(rec.calls[i], (h.C205, mid, h.ACK, m.token, ("p%d" % i).encode()))
            # values changed from the main thread are served by the reading thread
            r.value("v%d" % (i + 1))
            self.peer.sock.sendto(h.request(h.GET, "val", mid=0x5000 + i), h.sockaddr("127.0.0.1", port))
            g, _ = self.peer.expect()
            self.assertIsNotNone(g)
            self.assertEqual((g.mid, g.payload, g.opt(h.ETAG)), (0x5000 + i, ("v%d" % (i + 1)).encode(), h.uint(i + 2)))
        # the handler ran in the thread that called read()
        self.assertEqual(set(idents), {self.reader.ident})
        self.assertIsNone(self.reader.error)

    def test_client_only_session_created_while_blocked(self):
        coap.init()
        rec = h.Recorder()
        coap.register_response_handler(rec)
        s1 = coap.new_client_session("127.0.0.1", self.peer.port)
        s1.send_request(coap.REQUEST_GET, token="a")
        m, addr = self.peer.expect()
        self.reader = Reader(0)
        h.sleep_ms(100)
        # to another endpoint, so that NSTART (one CON per endpoint) does
        # not hold it behind the first request
        other = h.Peer()
        try:
            s2 = coap.new_client_session("127.0.0.1", other.port)
            mid2 = s2.send_request(coap.REQUEST_GET, token="b")
            m2, addr2 = other.expect()
            self.assertEqual(m2.mid, mid2)
            other.ack(m2, addr2, payload=b"B")
            self.assertTrue(wait_for(lambda: rec.calls), "response of a new session not handled")
            self.assertEqual(rec.calls[0][3:], (b"b", b"B"))
        finally:
            other.close()
        self.peer.ack(m, addr, payload=b"A")
        self.assertTrue(wait_for(lambda: len(rec.calls) == 2))

    def test_reader_with_timeout_loop(self):
        # the API page's non-blocking pattern: read(3000) in a loop
        coap.init()
        rec = h.Recorder()
        coap.register_response_handler(rec)
        self.reader = Reader(300)
        s = coap.new_client_session("127.0.0.1", self.peer.port)
        mid = s.send_request(coap.REQUEST_GET, token="nb")
        m, addr = self.peer.expect()
        self.peer.ack(m, addr, payload=b"x")
        self.assertTrue(wait_for(lambda: rec.calls))
        self.assertEqual(rec.calls[0][1], mid)
        self.assertTrue(0 in self.reader.returns or wait_for(lambda: 0 in self.reader.returns, 1000))

    def test_handler_exception_in_reader_thread(self):
        h.init_server()

        def bad(*args):
            raise KeyError("cb")
        coap.register_response_handler(bad)
        s = coap.new_client_session("127.0.0.1", self.peer.port)
        self.reader = Reader(0)
        h.sleep_ms(100)
        s.send_request(coap.REQUEST_GET)
        m, addr = self.peer.expect()
        self.peer.ack(m, addr)
        self.assertTrue(self.reader.wait_done(2000))
        self.assertTrue(isinstance(self.reader.error, KeyError), repr(self.reader.error))
        self.reader = None
        # the module is still usable and read() is free again
        self.assertEqual(coap.read(10), 0)


unittest.main()
