"""A seeded, lossy UDP relay between CoAP clients and one server, on 127.0.0.1.

usage: python3 relay.py SERVER_PORT --seed N [--loss P] [--dup P] [--cap K] [--fronts F]

Clients send to one of the relay's F ports (printed as "ready PORT..."; F
destination endpoints let a client keep F confirmable requests in flight under
NSTART = 1 per endpoint); each (port, client address) pair gets its own
upstream socket, so the server sees one endpoint per pair.
Every datagram in either direction is dropped with probability --loss and, if
forwarded, sent twice with probability --dup.

The cap (default 3) makes RFC 7252 retransmission always succeed: an *attempt*
is one copy of a confirmable message plus the response it draws (ACK or RST,
same Message ID). An attempt is lost when either half is dropped. After K lost
attempts in a row of the same exchange (client endpoint, originator, Message
ID), the next attempt is forwarded in both directions. With K=3 the 4th
transmission always completes, within MAX_RETRANSMIT=4. --cap 0 means no cap.

On SIGTERM it prints "STATS {json}" and exits.
"""

import argparse
import json
import os
import random
import select
import signal
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cpython"))
from support import ACK, HOST, RST  # noqa: E402  (tests/cpython/support.py)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server_port", type=int)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--loss", type=float, default=0.25)
    ap.add_argument("--dup", type=float, default=0.0)
    ap.add_argument("--cap", type=int, default=3)
    ap.add_argument("--fronts", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    server = (HOST, args.server_port)

    fronts = []
    for _ in range(args.fronts):
        f = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        f.bind((HOST, 0))
        fronts.append(f)
    upstream = {}   # (front, client addr) -> socket towards the server
    client_of = {}  # upstream socket -> (front, client addr)
    lost = {}       # exchange key -> lost attempts in a row
    stats = {k: 0 for k in ("to_server", "to_client", "dropped_to_server", "dropped_to_client",
                            "dup_to_server", "dup_to_client", "forced", "untracked")}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print("ready", " ".join(str(f.getsockname()[1]) for f in fronts), flush=True)

    def decide(key, is_response):
        """True to forward. Tracks lost attempts per exchange."""
        if key is None:
            stats["untracked"] += 1
            return rng.random() >= args.loss
        n = lost.get(key, 0)
        if args.cap and n >= args.cap:
            stats["forced"] += 1
            if is_response:
                lost[key] = 0
            return True
        if rng.random() < args.loss:
            lost[key] = n + 1
            return False
        if is_response:
            lost[key] = 0
        return True

    def key_of(data, client, from_client):
        if len(data) < 4 or data[0] >> 6 != 1:
            return None, False
        mtype = data[0] >> 4 & 3
        mid = data[2] << 8 | data[3]
        is_response = mtype in (ACK, RST)
        # Who sent the confirmable message this datagram belongs to.
        origin_client = from_client != is_response
        return (client, origin_client, mid), is_response

    while not stop:
        try:
            ready, _, _ = select.select(fronts + list(client_of), [], [], 0.2)
        except InterruptedError:
            continue
        for s in ready:
            try:
                data, addr = s.recvfrom(65535)
            except OSError:
                continue
            if s in fronts:
                client = (s, addr)
                if client not in upstream:
                    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    up.bind((HOST, 0))
                    upstream[client] = up
                    client_of[up] = client
                key, is_resp = key_of(data, client, True)
                if decide(key, is_resp):
                    copies = 2 if rng.random() < args.dup else 1
                    stats["to_server"] += 1
                    stats["dup_to_server"] += copies - 1
                    for _ in range(copies):
                        upstream[client].sendto(data, server)
                else:
                    stats["dropped_to_server"] += 1
            else:
                client = client_of[s]
                key, is_resp = key_of(data, client, False)
                if decide(key, is_resp):
                    copies = 2 if rng.random() < args.dup else 1
                    stats["to_client"] += 1
                    stats["dup_to_client"] += copies - 1
                    for _ in range(copies):
                        client[0].sendto(data, client[1])
                else:
                    stats["dropped_to_client"] += 1
    print("STATS", json.dumps(stats), flush=True)
    for s in fronts + list(client_of):
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
