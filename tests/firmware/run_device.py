#!/usr/bin/env python3
"""Run the device-portable unittest scripts on a board, through mpremote.

    run_device.py --port /dev/ttyUSB0 tests/test_*.py      (make test-device)

Copies the scripts and their helpers into /tests on the board, then runs each
script there (mpremote soft-resets the board first, so every script starts
from a fresh interpreter), and reports one PASS/FAIL/SKIP line per test with
the same parser and the same closing `N passed, M failed` line as tests/run.py.
unittest itself is frozen into the firmware (boards/manifest.py).
"""
import argparse
import os
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, TESTS)
import run  # noqa: E402  tests/run.py: Tally, parse_pycopy, run_captured

SETUP = "import os, sys\ntry:\n os.chdir('/tests')\nexcept OSError:\n pass\nsys.path.insert(0, '/tests')"


def mpremote(args, port, *cmd):
    argv = shlex.split(args.mpremote)
    if os.sep in argv[0]:
        argv[0] = os.path.abspath(argv[0])  # scripts run with cwd tests/
    return argv + ["connect", port] + list(cmd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", required=True)
    ap.add_argument("--mpremote", default="mpremote")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per script")
    ap.add_argument("--no-copy", action="store_true",
                    help="copy nothing (firmware with the helpers frozen in, e.g. the qemu test firmware)")
    ap.add_argument("tests", nargs="+")
    args = ap.parse_args()

    try:
        subprocess.run(mpremote(args, "auto")[:1] + ["version"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError):
        sys.exit("mpremote not found: pip install mpremote (or set MPREMOTE=...)")

    # Everything a script imports besides unittest: the helpers next to them.
    support = sorted(os.path.join(TESTS, f) for f in os.listdir(TESTS)
                     if f.endswith(".py") and not f.startswith("test_") and f != "run.py")
    files = support + [os.path.abspath(t) for t in args.tests]
    if not args.no_copy:
        print("device: copying %d files to %s:/tests" % (len(files), args.port), flush=True)
        mk = "import os\ntry:\n os.mkdir('/tests')\nexcept OSError:\n pass"
        subprocess.run(mpremote(args, args.port, "exec", mk), check=True)
        subprocess.run(mpremote(args, args.port, "fs", "cp") + files + [":/tests/"], check=True,
                       stdout=subprocess.DEVNULL)

    tally = run.Tally(verbose=False)
    for path in args.tests:
        file_id = "device/%s" % os.path.splitext(os.path.basename(path))[0]
        cmd = mpremote(args, args.port, "exec", SETUP, "run", os.path.abspath(path))
        status, out, secs = run.run_captured(cmd, os.environ.copy(), TESTS, args.timeout)
        results, unfinished, tracebacks, ran, pending = run.parse_pycopy(out)
        for st, name, detail in results:
            if st == "FAIL":
                detail = "\n".join(x for x in (detail, tracebacks.get(name, "")) if x)
            tally.report(st, file_id + "." + name, detail)
        if unfinished is not None:
            tally.report("FAIL", file_id + "." + unfinished, run.tail("\n".join(pending) or out))
        elif status is None:
            tally.report("FAIL", file_id + " (timed out after %d s)" % args.timeout, run.tail(out))
        elif not results:
            tally.report("FAIL", file_id + " (no tests ran)", run.tail(out))
        elif ran is not None and ran != len(results):
            tally.report("FAIL", file_id + " (ran %d tests, parsed %d)" % (ran, len(results)), run.tail(out))
    print(tally.summary())
    return 1 if tally.failed or not tally.passed else 0


if __name__ == "__main__":
    sys.exit(main())
