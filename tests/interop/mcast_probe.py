"""Send one CoAP GET, NON unless TYPE is "con" (to a multicast group or a unicast
address), and print every reply received within WAIT seconds as
'REPLY <from-port> <hex>'.
usage: python3 mcast_probe.py DEST PORT PATH[?QUERY] WAIT [TYPE]"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cpython"))
import support as s  # noqa: E402  (tests/cpython/support.py)


def main():
    dest, port, path, wait = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    mtype = s.CON if sys.argv[5:] == ["con"] else s.NON
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    sock.bind((s.HOST, 0))
    sock.sendto(s.build(mtype, s.GET, 0x2222, b"mc", s.path_options(path)), (dest, port))
    end = time.monotonic() + wait
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            data, addr = sock.recvfrom(2048)
        except socket.timeout:
            break
        print("REPLY", addr[1], data.hex(), flush=True)
    print("END", flush=True)


main()
