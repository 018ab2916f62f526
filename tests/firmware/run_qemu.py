#!/usr/bin/env python3
"""Run the device-portable unittest scripts inside the qemu RV32 firmware.

MicroPython's own tests/run-tests.py boots the firmware in
qemu-system-riscv32 once per script (-t execpty:...) and judges each script
by unittest's summary. This turns its verdicts into the PASS/FAIL/SKIP lines
that tests/run.py collects, then checks a soft reset (Ctrl-D typed at the REPL
while the module is in use: afterwards it is uninitialised, init() works and
nothing from before is left; qemu/soft_reset_*.py), and measures the GC heap
that coap.init() takes (qemu/heap_init.py). Those two drive the same firmware
through MicroPython's tools/pyboard.py.

Usage: run_qemu.py --micropython DIR --firmware ELF --name NAME
                   [--heap-json OUT] TEST.py...
"""
import argparse
import json
import os
import re
import subprocess
import sys

QEMU = ("qemu-system-riscv32 -machine virt -nographic -monitor null -semihosting"
        " -bios none -serial pty -kernel {elf}")
HERE = os.path.dirname(os.path.abspath(__file__))


def run_tests(args, qemu, result_dir):
    cmd = [sys.executable, "run-tests.py", "-t", "execpty:" + qemu,
           "-r", result_dir, "-j", "1"] + [os.path.abspath(t) for t in args.tests]
    print("qemu: " + " ".join(cmd[1:]), flush=True)
    proc = subprocess.run(cmd, cwd=os.path.join(args.micropython, "tests"),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=args.timeout)
    return proc.stdout


def soft_reset(args, qemu):
    """Runs qemu/soft_reset_before.py in the raw REPL, leaves it for the
    friendly REPL, types Ctrl-D there as a user would, then runs
    qemu/soft_reset_after.py. Prints one PASS/FAIL line; 1 if it failed."""
    sys.path.insert(0, os.path.join(args.micropython, "tools"))
    import pyboard

    def script(name):
        with open(os.path.join(HERE, "qemu", name)) as f:
            return f.read()

    name = "qemu-%s/soft-reset" % args.name
    pyb = None
    try:
        pyb = pyboard.Pyboard("execpty:" + qemu)
        pyb.enter_raw_repl()
        before = pyb.exec_(script("soft_reset_before.py"), timeout=30)
        pyb.exit_raw_repl()
        prompt = pyb.read_until(1, b"\r\n>>> ", timeout=10)
        if not prompt.endswith(b"\r\n>>> "):
            raise pyboard.PyboardError("no REPL prompt after leaving the raw REPL: %r" % prompt[-200:])
        pyb.serial.write(b"\x04")  # Ctrl-D: soft reset
        reboot = pyb.read_until(1, b"soft reboot\r\n", timeout=10)
        if not reboot.endswith(b"soft reboot\r\n"):
            raise pyboard.PyboardError("no soft reboot after Ctrl-D: %r" % reboot[-200:])
        pyb.enter_raw_repl(soft_reset=False)
        after = pyb.exec_(script("soft_reset_after.py"), timeout=30)
    except pyboard.PyboardError as e:
        # The details first: tests/run.py shows the lines before a FAIL line.
        for part in e.args:
            print(part.decode("utf-8", "replace") if isinstance(part, bytes) else part)
        print("FAIL %s" % name)
        return 1
    finally:
        if pyb is not None:
            pyb.close()
    if b"BEFORE ok" in before and b"AFTER ok" in after:
        print("PASS %s (Ctrl-D at the REPL; then uninitialised, init() works, nothing left)" % name)
        return 0
    print((before + after).decode("utf-8", "replace"))
    print("FAIL %s" % name)
    return 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--micropython", required=True)
    ap.add_argument("--firmware", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--heap-json")
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--heap-only", action="store_true", help="only measure the heap")
    ap.add_argument("tests", nargs="*")
    args = ap.parse_args()

    elf = os.path.abspath(args.firmware)
    qemu = QEMU.format(elf=elf)
    result_dir = os.path.join(os.path.dirname(elf), "run-tests-results")
    failed = 0

    if args.heap_only:
        args.tests = []
    elif not args.tests:
        ap.error("no test scripts given")
    out = run_tests(args, qemu, result_dir) if args.tests else ""
    seen = set()
    for line in out.splitlines():
        m = re.match(r"^(pass|FAIL|skip)\s+(\S+)(?:\s+\((.*)\))?\s*$", line)
        if not m:
            continue
        verdict, path, note = m.group(1), m.group(2), m.group(3) or ""
        name = "qemu-%s/%s" % (args.name, os.path.basename(path))
        seen.add(os.path.abspath(path))
        counts = re.search(r"(\d+) ran(?:, (\d+) skipped)?", note)
        if verdict == "pass":
            ran = int(counts.group(1)) if counts else 0
            skipped = int(counts.group(2) or 0) if counts else 0
            if counts and ran > 0 and skipped == ran:
                print("SKIP %s (all %d tests skipped themselves)" % (name, ran))
            else:
                print("PASS %s (%s)" % (name, note or "passed"))
        elif verdict == "skip":
            print("SKIP %s (run-tests.py skipped it)" % name)
        else:
            failed += 1
            print("FAIL %s" % name)
            # run-tests.py names its output after the path, "/" -> "_".
            base = os.path.join(result_dir, os.path.abspath(path).replace("/", "_"))
            for suffix in (".out",):
                try:
                    with open(base + suffix) as f:
                        text = f.read()
                    print("---- %s%s (last 40 lines) ----" % (os.path.basename(path), suffix))
                    print("\n".join(text.splitlines()[-40:]))
                except OSError:
                    pass
    for t in args.tests:
        if os.path.abspath(t) not in seen:
            failed += 1
            print("FAIL qemu-%s/%s (no verdict from run-tests.py)" % (args.name, os.path.basename(t)))
    if failed and not seen:
        print(out)
    if not args.heap_only:
        failed += soft_reset(args, qemu)

    if args.heap_json:
        cmd = [sys.executable, os.path.join(args.micropython, "tools", "pyboard.py"),
               "--device", "execpty:" + qemu, os.path.join(HERE, "qemu", "heap_init.py")]
        name = "qemu-%s/heap-at-init" % args.name
        os.makedirs(os.path.dirname(os.path.abspath(args.heap_json)), exist_ok=True)
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, timeout=120)
            vals = dict((k, int(v)) for k, v in
                        re.findall(r"^MPCOAP_HEAP (\w+) (-?\d+)", proc.stdout, re.M))
        except subprocess.TimeoutExpired as e:
            proc, vals = None, {}
            print("heap: timed out: %s" % e)
        if "init" in vals:
            with open(args.heap_json, "w") as f:
                json.dump(vals, f)
            print("PASS %s (measured %d bytes; %d left after deinit)"
                  % (name, vals["init"], vals.get("after_deinit", -1)))
        else:
            failed += 1
            print("FAIL %s (no measurement)" % name)
            if proc is not None:
                print(proc.stdout[-3000:])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
