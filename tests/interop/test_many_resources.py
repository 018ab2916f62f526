"""Issue 10, "Must show", unix build: 500 resources, each with a 200-byte
value and two attributes, and 64 client sessions with a request each in
flight, all at once. Every resource answers a GET from libcoap's
coap-client with its exact value, and /.well-known/core, served block-wise,
reassembles to the whole document; the 64 requests go to a libcoap
coap-server started here (one destination, so they queue behind NSTART and
each gets its answer: a silent port would only show that they are held, not
that they work). Then everything is removed and gc.mem_free() is back within
4 GC blocks of where it was after init() and a warm-up of every path.

The MicroPython side is SCRIPT below, driven through a control resource
(/ctl: the test PUTs a 4-letter word, the script reads it between read()
calls). It measures the heap itself; its GC block size comes from the
build's word size (MicroPython: 4 words per block)."""

import concurrent.futures
import os
import re
import sys
import tempfile
import time
import unittest

import os as _os, sys as _sys
_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))), "cpython"))
import support as s  # noqa: E402  (tests/cpython/support.py)

RESOURCES = 500
SESSIONS = 64
VALUE_LEN = 200
GC_BLOCKS_SLACK = 4
# coap-client processes at once (the machine has few cores; the server is
# one MicroPython thread)
PARALLEL = 4

VALUE_OF = '''
def value_of(i):
    t = "%05d-" % i
    return (t * (VALUE_LEN // len(t) + 1))[:VALUE_LEN].encode()
'''
exec(VALUE_OF)  # value_of(i), the same in both processes

SCRIPT = "VALUE_LEN = %d\n" % VALUE_LEN + VALUE_OF + r'''
import gc
import sys
import coap

port, server, n_res, n_ses = (int(a) for a in sys.argv[1:5])


def word_bytes():
    # sys.maxsize is 2**(8*word - 1) - 1
    bits, m = 1, sys.maxsize
    while m:
        m >>= 1
        bits += 1
    return bits // 8


BLOCK = 4 * word_bytes()   # MICROPY_BYTES_PER_GC_BLOCK: 4 object words


def ctl_wait(ctl, word):
    while ctl.value() != word:
        coap.read(20)


def run():
    coap.init("127.0.0.1", port=port)
    seen = bytearray(n_ses + 1)   # 1 for each request answered 2.05
    wrong = [0]

    def handler(code, mid, mtype, token, payload):
        i = int(token)
        if code == 69 and payload.startswith(b"This is a test server"):
            seen[i] = 1
        else:
            wrong[0] += 1

    coap.register_response_handler(handler)
    ctl = coap.add_resource("ctl", value=b"....")
    ctl.callback(coap.REQUEST_PUT | coap.REQUEST_GET, True)

    # warm-up: one of everything, through the same paths, then removed
    r = coap.add_resource("w", value=value_of(0))
    r.add_attribute("rt", "t0")
    r.add_attribute("if", "sensor")
    r.callback(coap.REQUEST_GET, True)
    sess = coap.new_client_session("127.0.0.1", server)
    sess.send_request(coap.REQUEST_GET, token=str(n_ses))
    while not seen[n_ses]:
        coap.read(20)
    print("WARM")
    ctl_wait(ctl, b"meas")        # the test GETs /w, then PUTs "meas"
    coap.remove_resource("w")
    coap.remove_client_session("127.0.0.1", server)
    r = sess = None
    gc.collect()
    start = gc.mem_free()
    print("START", start, BLOCK, coap._storage())

    for i in range(n_res):
        r = coap.add_resource("r%d" % i, value=value_of(i))
        r.add_attribute("rt", "t%d" % i)
        r.add_attribute("if", "sensor")
        r.callback(coap.REQUEST_GET, True)
    for i in range(n_ses):
        sess = coap.new_client_session("127.0.0.1", server)
        sess.send_request(coap.REQUEST_GET, token=str(i))
    r = sess = None
    gc.collect()
    print("PEAK", gc.mem_free(), coap._storage())
    print("READY")
    ctl_wait(ctl, b"done")
    print("ANSWERED", sum(seen[:n_ses]), wrong[0])

    for i in range(n_res):
        coap.remove_resource("r%d" % i)
    for i in range(n_ses):
        coap.remove_client_session("127.0.0.1", server)
    gc.collect()
    end = gc.mem_free()
    print("END", start, end, BLOCK, coap._storage())


run()
'''


class TestManyResources(s.MPTestCase):
    def client(self, path, method="get", extra=(), token=None):
        """(exit status, coap-client's exact payload): through a file, since
        stdout adds a newline. `token` (text, sent as is) gives the request
        a token of its own: coap-client takes any response that carries its
        token, and every coap-client starts with the same one."""
        fd, out = tempfile.mkstemp(prefix="mpcoap_many_")
        os.close(fd)
        try:
            if token is not None:
                extra = ["-T", token] + list(extra)
            r = s.run(["coap-client-notls", "-B", "5", "-m", method, "-o", out] + list(extra)
                      + ["coap://127.0.0.1:%d/%s" % (self.port, path)], timeout=30)
            with open(out, "rb") as f:
                return r.returncode, f.read()
        finally:
            os.unlink(out)

    def put_ctl(self, word):
        rc, _ = self.client("ctl", "put", ["-e", word])
        self.assertEqual(rc, 0)

    def test_500_resources_64_sessions_and_memory_back(self):
        s.need_tool(self, "coap-client-notls")
        s.need_tool(self, "coap-server-notls")
        server_port = s.free_port()
        server = s.Proc(["coap-server-notls", "-A", "127.0.0.1", "-p", str(server_port)])
        self.addCleanup(server.stop)
        deadline = time.monotonic() + 10
        while True:
            _, text, _, recv = s.coap_client(server_port, "", timeout=10)
            if recv:
                break
            self.assertTrue(time.monotonic() < deadline, "coap-server-notls does not answer:\n" + text)
            time.sleep(0.1)

        self.port = s.free_port()
        script = s.write_script(self, SCRIPT)
        mp = s.start_mp(self, script, [self.port, server_port, RESOURCES, SESSIONS])
        mp.expect("WARM", 30)
        self.assertEqual(self.client("w"), (0, value_of(0)))
        self.put_ctl("meas")
        start_line = mp.expect("START", 30)
        peak_line = mp.expect("PEAK", 120)
        mp.expect("READY", 30)

        # every resource, by libcoap's client, while the requests are served
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
            got = list(pool.map(lambda i: self.client("r%d" % i, token="%04x" % i), range(RESOURCES)))
        secs = time.monotonic() - t0
        bad = [(i, g) for i, g in enumerate(got) if g != (0, value_of(i))]
        if bad:
            # Asked again, one at a time: a wrong value again means the
            # stored value is wrong, the right one a transient mix-up.
            again = [(i, self.client("r%d" % i, token="%04x" % i)) for i, _ in bad[:5]]
            self.fail("%d of %d resources answered wrongly (index, (exit status, payload)):\n%r\n"
                      "asked again one at a time:\n%r" % (len(bad), RESOURCES, bad[:5], again))
        # their attributes, through filtered discovery (the whole document
        # is far larger than one message)
        for i in (0, 1, 250, RESOURCES - 1):
            _, text, _, recv = s.coap_client(self.port, ".well-known/core?rt=t%d" % i)
            self.assertTrue(recv, text)
            self.assertEqual((recv[-1].code, recv[-1].payload),
                             ("2.05", ("</r%d>;rt=t%d;if=sensor" % (i, i)).encode()))
        # the whole document, far larger than one message: block-wise,
        # reassembled by coap-client, RFC 6690's links in the order added
        want = ",".join(["</ctl>"] + ["</r%d>;rt=t%d;if=sensor" % (i, i) for i in range(RESOURCES)])
        self.assertEqual(self.client(".well-known/core"), (0, want.encode()))

        self.put_ctl("done")
        answered = mp.expect("ANSWERED", 60).split()
        self.assertEqual((int(answered[1]), int(answered[2])), (SESSIONS, 0),
                         "requests answered 2.05 / answered otherwise")
        end = mp.expect("END", 60)
        status = mp.wait_exit(30)
        self.assertEqual(status, 0, mp.output(last=30))
        m = re.match(r"END (\d+) (\d+) (\d+) (.*)$", end)
        start, after, block, storage = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)
        print("\nmany resources: %d GETs by coap-client (%d at a time) in %.1f s; %s; %s; %s; "
              "mem_free %d -> %d (GC block %d B)"
              % (RESOURCES, PARALLEL, secs, start_line, peak_line, end, start, after, block),
              file=sys.stderr)
        self.assertTrue(abs(after - start) <= GC_BLOCKS_SLACK * block,
                        "gc.mem_free() %d after removing everything, %d at the start: %d bytes apart, "
                        "more than %d GC blocks of %d B" % (after, start, after - start, GC_BLOCKS_SLACK, block))
        self.assertEqual(storage, start_line.split(" ", 3)[3], "engine storage not back where it started")


if __name__ == "__main__":
    unittest.main()
