#!/usr/bin/env python3
"""Instructions per request and per symbol of one bench-rv32 server scenario,
the profile behind BENCHMARKS.md ("Cost per request on RV32", issue 8 step 2).

Runs the scenario's datagram through coap._repeat() in the qemu RV32
firmware twice, N times and 0 times (after the same warm-up), each under
`qemu-system-riscv32 -icount shift=0` with the tbcount plugin (tbcount.c,
built as its header says), maps every translation block to its symbol
(`nm`), and prints the difference per symbol divided by N. The C loop of
coap._repeat is included, the idle loop waiting on the serial line is not
(its count depends on the host). Exact: two runs agree to the instruction.

Usage: profile.py --micropython build/micropython-1.26.1 \\
         --firmware build/qemu/rv32imac/build/firmware.elf \\
         --plugin tools/rv32-profile/tbcount.so [--scenario get] [-n 1000]
"""
import argparse
import bisect
import collections
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
QEMU = ("qemu-system-riscv32 -machine virt -nographic -monitor null -semihosting -bios none"
        " -icount shift=0 -serial pty -plugin {plugin},out={out} -kernel {elf}")
# The requests of tests/bench/rv32/bench_requests.py, the same resources.
SCRIPT = """
import coap
import helpers as h
TOKEN = b"\\x01\\x02\\x03\\x04"
coap.init()
coap.add_resource("r", media_type=coap.MEDIATYPE_TEXT_PLAIN, value=b"hello world").callback(coap.REQUEST_GET, True)
coap.add_resource("etag", media_type=coap.MEDIATYPE_TEXT_PLAIN, value=b"0",
                  etag=True).callback(coap.REQUEST_GET | coap.REQUEST_PUT, True)
SCENARIOS = {{
    "get": h.request(h.GET, "r", token=TOKEN, mid=0),
    "put_etag": h.request(h.PUT, "etag", token=TOKEN, mid=0, options=[(h.CONTENT_FORMAT, b"")], payload=b"23.5"),
    "not_found": h.request(h.GET, "missing", token=TOKEN, mid=0),
    "well_known_core": h.request(h.GET, ".well-known/core", token=TOKEN, mid=0, mtype=h.NON),
}}
d = bytearray(SCENARIOS["{scenario}"])
d[2], d[3] = 0x10, 0
coap._repeat(200, d)
d[2], d[3] = 0x20, 0
coap._repeat({n}, d)
print("PROFILE done")
"""
IDLE = ("uart_rx_chr", "mp_hal_stdin_rx_chr", "uart_tx_strn", "strlen")


def run(args, n, workdir):
    script = os.path.join(workdir, "profile_%d.py" % n)
    out = os.path.join(workdir, "tb_%d.out" % n)
    with open(script, "w") as f:
        f.write(SCRIPT.format(scenario=args.scenario, n=n))
    qemu = QEMU.format(plugin=os.path.abspath(args.plugin), out=out, elf=os.path.abspath(args.firmware))
    text = subprocess.run([sys.executable, os.path.join(args.micropython, "tools", "pyboard.py"),
                           "--device", "execpty:" + qemu, script],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300).stdout
    if "PROFILE done" not in text:
        raise SystemExit("the firmware did not finish:\n" + text[-2000:])
    for _ in range(50):  # the plugin writes its file when qemu exits
        if os.path.exists(out):
            break
        subprocess.run(["sleep", "0.1"])
    return out


def per_symbol(elf, path):
    syms = []
    nm = subprocess.run(["nm", "-n", "--demangle", elf], capture_output=True, text=True, check=True).stdout
    for line in nm.splitlines():
        p = line.split(None, 2)
        if len(p) == 3 and p[1] in "tTwW":
            syms.append((int(p[0], 16), p[2]))
    addrs = [a for a, _ in syms]
    counts = collections.Counter()
    with open(path) as f:
        for line in f:
            va, insns, runs = line.split()
            i = bisect.bisect_right(addrs, int(va, 16)) - 1
            counts[syms[i][1] if i >= 0 else "?"] += int(insns) * int(runs)
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--micropython", required=True)
    ap.add_argument("--firmware", required=True)
    ap.add_argument("--plugin", required=True)
    ap.add_argument("--scenario", default="get", choices=["get", "put_etag", "not_found", "well_known_core"])
    ap.add_argument("-n", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = per_symbol(args.firmware, run(args, 0, tmp))
        work = per_symbol(args.firmware, run(args, args.n, tmp))
    diff = {k: (work[k] - base[k]) / args.n for k in set(base) | set(work) if not k.startswith(IDLE)}
    rows = sorted(((v, k) for k, v in diff.items() if abs(v) >= 0.5), reverse=True)
    print("%s: %.0f instructions per request (coap._repeat's C loop included)" % (args.scenario, sum(v for v, _ in rows)))
    for v, k in rows:
        print("%8.1f  %s" % (v, k))


if __name__ == "__main__":
    main()
