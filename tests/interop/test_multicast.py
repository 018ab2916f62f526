"""Service discovery: init(address, service_discovery=True) answers a GET
/.well-known/core sent to 224.0.1.187, and never sends an error response to a
multicast request. Every request gets one answer, also where the server is
bound to 0.0.0.0 and so a group datagram reaches both of its sockets. Runs
inside a network namespace created by the test."""

import os
import sys
import unittest

import os as _os, sys as _sys
_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))), "cpython"))
import support as s  # noqa: E402  (tests/cpython/support.py)

GROUP = "224.0.1.187"
PROBE = os.path.join(s.INTEROP, "mcast_probe.py")


def parse_reply(hexdata):
    m = s.parse(bytes.fromhex(hexdata))
    assert m is not None, "malformed reply " + hexdata
    return m["type"], m["code"], m["token"], m["options"], m["payload"]


@unittest.skipUnless(hasattr(os, "geteuid") and os.geteuid() == 0 and s.have("ip"),
                     "needs root and iproute2 for a network namespace")
class ServiceDiscovery(s.MPTestCase):
    addr = None  # the server's address: 127.0.0.1 (mp_server.py's default)

    def setUp(self):
        self.ns = "mpcoap%d" % os.getpid()
        s.run(["ip", "netns", "del", self.ns], timeout=10)
        r = s.run(["ip", "netns", "add", self.ns], timeout=10)
        if r.returncode != 0:
            self.skipTest("cannot create a network namespace: %s" % r.stdout.decode())
        self.addCleanup(s.run, ["ip", "netns", "del", self.ns], timeout=10)
        for cmd in (["link", "set", "lo", "up"], ["link", "set", "lo", "multicast", "on"],
                    ["route", "add", "224.0.0.0/4", "dev", "lo"]):
            r = s.run(["ip", "-n", self.ns] + cmd, timeout=10)
            self.assertEqual(r.returncode, 0, r.stdout)
        self.port = 5683  # a fresh namespace: the default port is free
        extra = ["sd"] + (["addr=" + self.addr] if self.addr else [])
        self.srv = s.start_mp_server(self, self.port, extra=extra, netns=self.ns)

    def probe(self, dest, path, wait, mtype="non"):
        r = s.run(["ip", "netns", "exec", self.ns, sys.executable, PROBE, dest, str(self.port), path,
                   str(wait), mtype], timeout=wait + 15)
        out = r.stdout.decode()
        self.assertIn("END", out, out)
        return [parse_reply(l.split()[2]) for l in out.splitlines() if l.startswith("REPLY ")]

    def test_discovery_answered(self):
        replies = self.probe(GROUP, ".well-known/core", 7)
        self.assertEqual(len(replies), 1, "replies: %r\n%s" % (replies, self.srv.output()))
        mtype, code, token, opts, payload = replies[0]
        self.assertEqual((mtype, code, token), (1, 69, b"mc"))  # NON 2.05
        self.assertIn((12, b"\x28"), opts)  # Content-Format 40
        self.assertTrue(payload.startswith(b'</resource1>;title="resource1";ct=0,</resource2>'), payload)

    def test_discovery_filter_match(self):
        replies = self.probe(GROUP, ".well-known/core?rt=temperature-c", 7)
        self.assertEqual(len(replies), 1, replies)
        self.assertEqual(replies[0][4], b"</sensors/temp>;rt=temperature-c;if=sensor")

    def test_no_match_no_response(self):
        self.assertEqual(self.probe(GROUP, ".well-known/core?rt=nothing", 7), [])

    def test_failing_multicast_request_gets_no_error(self):
        self.assertEqual(self.probe(GROUP, "does/not/exist", 7), [])
        # the same request by unicast does get its 4.04
        replies = self.probe("127.0.0.1", "does/not/exist", 3)
        self.assertEqual(len(replies), 1)
        self.assertEqual(replies[0][1], 132)

    def test_resource_get_by_multicast(self):
        replies = self.probe(GROUP, "sensors/temp", 7)
        self.assertEqual(len(replies), 1, replies)
        self.assertEqual((replies[0][1], replies[0][4]), (69, b"21.5"))

    def test_con_to_the_group_answered_once(self):
        # RFC 7252 §8.1 wants multicast requests NON; a CON one still gets
        # one answer (its ACK), not one per socket
        replies = self.probe(GROUP, "sensors/temp", 2, "con")
        self.assertEqual(len(replies), 1, "replies: %r\n%s" % (replies, self.srv.output()))
        self.assertEqual(replies[0][:3], (2, 69, b"mc"))  # ACK 2.05
        self.assertEqual(len(self.probe(GROUP, "does/not/exist", 2, "con")), 0)


class ServiceDiscoveryAnyAddress(ServiceDiscovery):
    """The same with the server bound to 0.0.0.0: group datagrams reach the
    server socket as well as the multicast socket. The tests of filters and
    of a GET that matches nothing are the same code whatever the binding."""
    addr = "0.0.0.0"
    test_discovery_filter_match = None
    test_no_match_no_response = None
    test_resource_get_by_multicast = None


if __name__ == "__main__":
    unittest.main()
