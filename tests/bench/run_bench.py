"""`make bench`: the module's server, libcoap's coap-server and an aiocoap server,
each loaded the same way by tools/coap-load, side by side.

usage: python3 run_bench.py --micropython BIN --load BIN [--seconds S] [--rounds N]
                            [--configs 1x1,8x1,8x4] [--json OUT]

Each server runs alone on a free 127.0.0.1 port and is stopped by its PID.
Every GET is checked by coap-load (code 2.05 and the 136-byte payload).
The module and aiocoap serve /bench; libcoap serves the same payload at /.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cpython"))
import support as S  # noqa: E402  (tests/cpython/support.py)

HERE = os.path.dirname(os.path.abspath(__file__))
PAYLOAD_LEN = os.path.getsize(os.path.join(HERE, "payload.txt"))


def wait_answering(port, path, timeout=15.0):
    """Until a CON GET gets an ACK."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    req = S.build(S.CON, S.GET, 1, b"", S.path_options(path))
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            try:
                s.sendto(req, (S.HOST, port))
                if s.recv(2048)[0] >> 4 & 3 == S.ACK:
                    return
            except (socket.timeout, ConnectionRefusedError):
                time.sleep(0.05)
        raise RuntimeError("server on port %d does not answer GET %s" % (port, path))
    finally:
        s.close()


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def servers(args):
    mp_script = os.path.join(HERE, "module_server.py")
    return [
        ("module", "/bench", lambda port: [args.micropython, mp_script, str(port)]),
        ("libcoap", "/", lambda port: [args.coap_server, "-A", S.HOST, "-p", str(port)]),
        ("aiocoap", "/bench", lambda port: [sys.executable, os.path.join(HERE, "aiocoap_server.py"), str(port)]),
    ]


def run_load(args, port, path, label, clients, inflight):
    cmd = [args.load, "--port", str(port), "--path", path, "--clients", str(clients),
           "--inflight", str(inflight), "--duration", str(args.seconds), "--warmup", "200",
           "--timeout-ms", "1000", "--retries", "3", "--payload-len", str(PAYLOAD_LEN), "--label", label]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.seconds + 120)
    sys.stdout.write(out.stdout)
    sys.stderr.write(out.stderr)
    line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError("coap-load failed (rc %d): %s" % (out.returncode, " ".join(cmd)))
    return json.loads(line[len("RESULT "):])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--micropython", required=True)
    ap.add_argument("--load", required=True)
    ap.add_argument("--coap-server", default="coap-server-notls")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--configs", default="1x1,8x1,8x4", help="CLIENTSxINFLIGHT,...")
    ap.add_argument("--rounds", type=int, default=1, help="repeat everything; the table shows each row's best round")
    ap.add_argument("--only", default="", help="comma-separated subset of module,libcoap,aiocoap")
    ap.add_argument("--json", help="write all results here")
    args = ap.parse_args()
    configs = [tuple(int(x) for x in c.split("x")) for c in args.configs.split(",")]
    only = set(filter(None, args.only.split(",")))

    results = {}
    for rnd in range(args.rounds):
        for name, path, argv in servers(args):
            if only and name not in only:
                continue
            port = S.free_port()
            p = S.Proc(argv(port), cwd=HERE)
            try:
                wait_answering(port, path)
                for clients, inflight in configs:
                    r = run_load(args, port, path, name, clients, inflight)
                    r["rss_kib"] = rss_kib(p.pid)
                    r["round"] = rnd + 1
                    key = (name, clients, inflight)
                    # Best of the rounds: other load on the machine only ever slows a run down.
                    if key not in results or r["rps"] > results[key]["rps"]:
                        results[key] = r
            finally:
                p.stop()

    names = [n for n, _, _ in servers(args) if not only or n in only]
    print()
    print("best of %d round(s), %g s each, %s" % (args.rounds, args.seconds, os.uname().release))
    print("| clients x in flight | server | req/s | p50 µs | p99 µs | errors+timeouts | RSS KiB | module/libcoap | module/aiocoap |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for clients, inflight in configs:
        mod = results.get(("module", clients, inflight))
        for name in names:
            r = results[(name, clients, inflight)]
            ratios = ["", ""]
            if name == "module":
                for i, other in enumerate(("libcoap", "aiocoap")):
                    o = results.get((other, clients, inflight))
                    if o and o["rps"]:
                        ratios[i] = "%.2f" % (mod["rps"] / o["rps"])
            print("| %dx%d | %s | %.0f | %d | %d | %d | %s | %s | %s |" % (
                clients, inflight, name, r["rps"], r["p50_us"], r["p99_us"], r["errors"] + r["timeouts"],
                r["rss_kib"] if r["rss_kib"] is not None else "-", ratios[0], ratios[1]))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump([dict(r, server=n, clients=c, inflight=i) for (n, c, i), r in results.items()], f, indent=1)
    bad = [k for k, r in results.items() if r["errors"] or r["timeouts"] or not r["ok"]]
    if bad:
        print("errors or timeouts in: %s" % bad, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
