"""Send one NON CoAP GET (to a multicast group or a unicast address) and print
every reply received within WAIT seconds as 'REPLY <from-port> <hex>'.
usage: python3 mcast_probe.py DEST PORT PATH[?QUERY] WAIT"""

import socket
import sys
import time


def build_get(mid, token, path):
    out = bytearray([0x50 | len(token), 0x01, mid >> 8, mid & 0xFF]) + token
    last = 0
    path, _, query = path.partition("?")
    opts = [(11, seg.encode()) for seg in path.split("/") if seg]
    opts += [(15, q.encode()) for q in query.split("&") if q]
    for num, val in opts:
        d, n = num - last, len(val)
        assert d < 13 and n < 269
        if n < 13:
            out.append((d << 4) | n)
        else:
            out += bytes([(d << 4) | 13, n - 13])
        out += val
        last = num
    return bytes(out)


def main():
    dest, port, path, wait = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    s.bind(("127.0.0.1", 0))
    s.sendto(build_get(0x2222, b"mc", path), (dest, port))
    end = time.monotonic() + wait
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            data, addr = s.recvfrom(2048)
        except socket.timeout:
            break
        print("REPLY", addr[1], data.hex(), flush=True)
    print("END", flush=True)


main()
