#!/usr/bin/env python3
"""Instructions per request and stack depth per entry point of the module in
the qemu RV32 firmware, deterministic (make bench-rv32; with --budgets, the
check of make test-firmware-checks).

Boots each firmware in `qemu-system-riscv32 -icount shift=0` (one instruction
per nanosecond of virtual time) and runs tests/bench/rv32/bench_requests.py
and bench_stack.py in it through MicroPython's tools/pyboard.py. Prints
both tables (BENCHMARKS.md quotes them); with --budgets FILE, also one PASS or
FAIL line per figure against FILE, the one place the budgets are named, and
exits 1 if any figure is over its budget.

Usage: rv32_bench.py --micropython DIR --firmware NAME=ELF [--firmware ...]
                     [--budgets tests/bench/rv32_budgets.json] [--json OUT]
"""
import argparse
import json
import os
import re
import subprocess
import sys

QEMU = ("qemu-system-riscv32 -machine virt -nographic -monitor null -semihosting"
        " -bios none -icount shift=0 -serial pty -kernel {elf}")
HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = {"bench": "bench_requests.py", "stack": "bench_stack.py"}


def run_script(args, elf, script):
    cmd = [sys.executable, os.path.join(args.micropython, "tools", "pyboard.py"),
           "--device", "execpty:" + QEMU.format(elf=os.path.abspath(elf)),
           os.path.join(HERE, "rv32", script)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=args.timeout)
    return proc.stdout


def measure(args, name, elf):
    """{"bench": {"get engine": n, ...}, "stack": {"init": n, ...}} or raises."""
    out = {}
    for kind, script in SCRIPTS.items():
        text = run_script(args, elf, script)
        tag = "MPCOAP_" + kind.upper()
        if not re.search(r"^%s done" % tag, text, re.M):
            raise RuntimeError("%s: %s did not finish:\n%s" % (name, script, text[-3000:]))
        if kind == "bench":
            found = re.findall(r"^%s (\S+) (\S+) (-?\d+)" % tag, text, re.M)
            out[kind] = dict(("%s %s" % (s, p), int(v)) for s, p, v in found)
        else:
            found = re.findall(r"^%s (\S+) (-?\d+)" % tag, text, re.M)
            out[kind] = dict((e, int(v)) for e, v in found)
    return out


def table(title, head, rows):
    print(title)
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")
    print()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--micropython", required=True)
    ap.add_argument("--firmware", action="append", required=True, help="NAME=ELF")
    ap.add_argument("--budgets", help="JSON file of budgets: check the figures against it")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args()

    figures = {}
    for spec in args.firmware:
        name, elf = spec.split("=", 1)
        figures[name] = measure(args, name, elf)
    names = list(figures)

    scenarios = []
    for key in figures[names[0]]["bench"]:
        s = key.split()[0]
        if s not in scenarios:
            scenarios.append(s)
    head = ["scenario"] + ["%s %s" % (n, p) for n in names for p in ("engine", "hook")]
    rows = [[s] + ["{:,}".format(figures[n]["bench"].get("%s %s" % (s, p), -1))
                   for n in names for p in ("engine", "hook")] for s in scenarios]
    table("Instructions per request (qemu -icount shift=0; engine = the engine calls alone,"
          " hook = the whole private hook from Python)", head, rows)
    entries = list(figures[names[0]]["stack"])
    table("Deepest stack use, bytes (painted stack; engine:* below the hook's frame,"
          " the others below coap._stack's frame)",
          ["entry point"] + names,
          [[e] + [figures[n]["stack"].get(e, -1) for n in names] for e in entries])

    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1, sort_keys=True)

    if not args.budgets:
        return 0
    with open(args.budgets) as f:
        budgets = json.load(f)
    failed = 0
    for n in names:
        checks = [("bench", k, v, "instructions") for k, v in budgets["instructions_per_request"].items()]
        deepest = {"engine": max(v for e, v in figures[n]["stack"].items() if e.startswith("engine:")),
                   "entry": max(v for e, v in figures[n]["stack"].items() if not e.startswith("engine:"))}
        for part, limit in budgets["stack_bytes"].items():
            checks.append(("stack", part, limit, "bytes"))
        for kind, key, limit, unit in checks:
            got = figures[n][kind].get(key) if kind == "bench" else deepest[key]
            label = "qemu-%s/%s %s" % (n, "insns-per-request" if kind == "bench" else "stack-deepest", key)
            if got is None:
                failed += 1
                print("FAIL %s (not measured)" % label)
            elif got > limit:
                failed += 1
                print("FAIL %s: %d %s > budget %d (%+.1f%%; tests/bench/rv32_budgets.json; see BENCHMARKS.md"
                      " for the re-baselining rule)" % (label, got, unit, limit, 100.0 * (got - limit) / limit))
            else:
                print("PASS %s: %d %s <= budget %d" % (label, got, unit, limit))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
