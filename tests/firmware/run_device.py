#!/usr/bin/env python3
"""Run the device-portable unittest scripts on a board, through mpremote.

    run_device.py --port /dev/ttyUSB0 --mpy-cross mpy-cross tests/test_*.py
                                                          (make test-device)

Compiles the scripts and their helpers with mpy-cross, which must be of the
firmware's MicroPython release (checked against the board), so that a board
without PSRAM does not have to compile 20 KB scripts itself. Copies the .mpy
files into /tests on the board (or, with --ram-vfs, for a board without a
writable filesystem such as the qemu test firmware, sends each script's
.mpy files with it and mounts them from RAM), then runs each script there: it is imported with
unittest.main() held back (the scripts call it at their end, for __main__)
and then run by unittest.main(module). mpremote soft-resets the board first,
so every script starts from a fresh interpreter. One PASS/FAIL/SKIP line per
test, with the same parser and the same closing `N passed, M failed` line as
tests/run.py. unittest itself is frozen into the firmware (boards/manifest.py).
"""
import argparse
import os
import re
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, TESTS)
import run  # noqa: E402  tests/run.py: Tally, parse_pycopy, run_captured

SETUP = "import os, sys\ntry:\n os.chdir('/tests')\nexcept OSError:\n pass\nsys.path.insert(0, '/tests')"
# Imports the compiled script without letting its closing unittest.main()
# run (it would look for tests in __main__), then runs its tests.
RUN = ("import unittest\n_main = unittest.main\nunittest.main = lambda *a, **k: None\n"
       "import {name}\nunittest.main = _main\n_main({name})")
# A read-only filesystem in RAM (MicroPython's VFS protocol: mount, stat,
# open, ...) holding the .mpy files of one run, mounted at /tests.
RAM_VFS = """import os, io, sys
class RamFS:
    def __init__(self, files):
        self.files = files
    def mount(self, readonly, mkfs):
        pass
    def umount(self):
        pass
    def chdir(self, path):
        pass
    def getcwd(self):
        return ''
    def ilistdir(self, path):
        return iter([(n, 0x8000, 0, len(d)) for n, d in self.files.items()])
    def _get(self, path):
        d = self.files.get(path.lstrip('/'))
        if d is None:
            raise OSError(2)
        return d
    def stat(self, path):
        if path.strip('/') == '':
            return (0x4000, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        return (0x8000, 0, 0, 0, 0, 0, len(self._get(path)), 0, 0, 0)
    def open(self, path, mode):
        return io.BytesIO(self._get(path))
os.mount(RamFS({files}), '/tests')
sys.path.insert(0, '/tests')
"""
VERSION_PROBE = ("import sys\nprint('mpcoap-version', '.'.join(str(x) for x in sys.implementation.version[:3]), "
                 "sys.implementation._mpy)")


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
    ap.add_argument("--mpy-cross", required=True, help="mpy-cross of the firmware's MicroPython release")
    ap.add_argument("--mpy-dir", required=True, help="where the .mpy files are written")
    ap.add_argument("--ram-vfs", action="store_true",
                    help="send each script's .mpy files with it and mount them from RAM instead of copying "
                         "them (a board without a writable filesystem, e.g. the qemu test firmware)")
    ap.add_argument("tests", nargs="+")
    args = ap.parse_args()

    try:
        subprocess.run(mpremote(args, "auto")[:1] + ["version"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError):
        sys.exit("mpremote not found: make host-tools (or set MPREMOTE=...)")
    try:
        cross = subprocess.run([args.mpy_cross, "--version"], check=True, stdout=subprocess.PIPE, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        sys.exit("mpy-cross not found at %s: make host-tools" % args.mpy_cross)
    # The .mpy format must be the board's (sys.implementation._mpy: version
    # in bits 0-7, sub-version in bits 8-9); a release version, where
    # mpy-cross states one, must be the board's too (a build from a source
    # tree inside another git repository states that repository's instead).
    m = re.search(r"MicroPython v(\d+\.\d+\.\d+)", cross)
    cross_release = m.group(1) if m else None
    m = re.search(r"emitting mpy v(\d+)\.(\d+)", cross)
    cross_mpy = (int(m.group(1)), int(m.group(2))) if m else None
    probe = subprocess.run(mpremote(args, args.port, "exec", VERSION_PROBE), stdout=subprocess.PIPE, text=True)
    m = re.search(r"mpcoap-version (\S+) (\d+)", probe.stdout)
    if m is None:
        sys.exit("device: no answer from the board on %s:\n%s" % (args.port, probe.stdout))
    board_release, board_mpy = m.group(1), (int(m.group(2)) & 0xFF, (int(m.group(2)) >> 8) & 3)
    if cross_mpy != board_mpy or (cross_release is not None and cross_release != board_release):
        sys.exit("device: the board runs MicroPython %s (mpy v%d.%d) but %s is %s; use mpy-cross of the "
                 "firmware's release (make host-tools)" % (board_release, board_mpy[0], board_mpy[1],
                                                           args.mpy_cross, cross.strip()))
    cross_version = cross_release or "v%d.%d" % cross_mpy

    # Everything a script imports besides unittest: the helpers next to them.
    support = sorted(os.path.join(TESTS, f) for f in os.listdir(TESTS)
                     if f.endswith(".py") and not f.startswith("test_") and f != "run.py")
    os.makedirs(args.mpy_dir, exist_ok=True)
    for f in os.listdir(args.mpy_dir):
        if f.endswith(".mpy"):
            os.remove(os.path.join(args.mpy_dir, f))
    compiled = []
    for src in support + [os.path.abspath(t) for t in args.tests]:
        out = os.path.join(args.mpy_dir, os.path.splitext(os.path.basename(src))[0] + ".mpy")
        subprocess.run([args.mpy_cross, "-o", out, src], check=True)
        compiled.append(out)
    print("device: %d scripts compiled by mpy-cross %s (board: MicroPython %s)"
          % (len(compiled), cross_version, board_release), flush=True)
    if not args.ram_vfs:
        print("device: copying %d .mpy files to %s:/tests" % (len(compiled), args.port), flush=True)
        # Stale .py files of an earlier run would shadow the .mpy (import
        # looks for .py first).
        mk = ("import os\ntry:\n os.mkdir('/tests')\nexcept OSError:\n pass\n"
              "for f in os.listdir('/tests'):\n if f.endswith('.py') or f.endswith('.mpy'):\n"
              "  os.remove('/tests/' + f)")
        subprocess.run(mpremote(args, args.port, "exec", mk), check=True)
        subprocess.run(mpremote(args, args.port, "fs", "cp") + compiled + [":/tests/"], check=True,
                       stdout=subprocess.DEVNULL)

    tally = run.Tally(verbose=False)
    for path in args.tests:
        file_id = "device/%s" % os.path.splitext(os.path.basename(path))[0]
        name = os.path.splitext(os.path.basename(path))[0]
        code = RUN.format(name=name)
        if args.ram_vfs:
            files = {}
            for f in support + [path]:
                mpy = os.path.splitext(os.path.basename(f))[0] + ".mpy"
                with open(os.path.join(args.mpy_dir, mpy), "rb") as fh:
                    files[mpy] = fh.read()
            cmd = mpremote(args, args.port, "exec", RAM_VFS.format(files=repr(files)) + code)
        else:
            cmd = mpremote(args, args.port, "exec", SETUP + "\n" + code)
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
