"""A UDP flood for test_read_flood.py: CON GETs of PATH to 127.0.0.1:PORT, sent
as fast as this process can for SECONDS (answers are never read).
usage: python3 flooder.py PORT SECONDS PATH"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cpython"))
import support as S  # noqa: E402  (tests/cpython/support.py)

port, seconds, path = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
datagrams = [S.build(S.CON, S.GET, mid, b"", S.path_options(path)) for mid in range(0x10000)]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
dest = (S.HOST, port)
sent = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    for d in datagrams[sent & 0xFF00:(sent & 0xFF00) + 256]:
        try:
            s.sendto(d, dest)
        except OSError:
            pass
    sent += 256
print("SENT", sent, flush=True)
