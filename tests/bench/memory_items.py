#!/usr/bin/env python3
"""GC heap the module keeps at init() and per item, side by side for the
64-bit unix build and the 32-bit qemu RV32 firmware (`make bench-memory`).

The figures come from tests/firmware/qemu/heap_init.py: run here with the
unix binary, and inside qemu by `make firmware-check-size` (run_qemu.py
--heap-json), whose JSON files this reads. Per-item figures are averages
over the script's N items, after gc.collect(), so they include the Python
object of a resource or session and the GC's rounding to its block (16
bytes on 32-bit, 32 on 64-bit).
"""
import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(os.path.dirname(HERE), "firmware", "qemu", "heap_init.py")

ROWS = [
    ("init", "init(): state, datagram buffer, engine block"),
    ("resource", "a resource (uri `r000`, empty value), with its CoapResource"),
    ("value_200", "a 200-byte value"),
    ("value_1000_over_200", "a 1000-byte value instead of a 200-byte one"),
    ("two_attributes", "attributes `rt=\"temp\"` and `if=\"sensor\"` (node regrown; GC rounding)"),
    ("session", "a client session, with its CoapClientSession"),
    ("request", "a GET held (uri `a`, 4-byte token): node + encoded bytes"),
    ("after_remove", "left after removing everything (gc.collect())"),
    ("after_deinit", "left after deinit()"),
]


def unix(binary):
    out = subprocess.run([binary, SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=120, check=True).stdout
    return dict((k, int(v)) for k, v in re.findall(r"^MPCOAP_HEAP (\w+) (-?\d+)", out, re.M))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--unix", required=True, help="the unix micropython binary (64-bit)")
    ap.add_argument("--qemu-json", action="append", default=[], metavar="NAME=PATH",
                    help="heap JSON of a qemu firmware (make firmware-check-size)")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    cols = [("unix x86-64", unix(args.unix))]
    for spec in args.qemu_json:
        name, _, path = spec.partition("=")
        with open(path) as f:
            cols.append(("qemu " + name, json.load(f)))
    print("GC heap, bytes (tests/firmware/qemu/heap_init.py; per item: average of its N items)")
    print("| what | " + " | ".join(c for c, _ in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for key, what in ROWS:
        print("| %s | %s |" % (what, " | ".join(str(v.get(key, "n/a")) for _, v in cols)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(cols), f, indent=1)
    missing = [c for c, v in cols if "resource" not in v]
    if missing:
        print("no per-item figures from: %s" % ", ".join(missing))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
