#!/usr/bin/env python3
"""The one test runner for everything above `cargo test`.

Suites, in this order:
  mp    every tests/test_*.py, run by each MicroPython unix binary (the default
        build, threads without a GIL, and the GIL build like esp32), with
        MICROPYPATH so that `import unittest` and `import helpers` resolve;
        tests that wait seconds on the shipped protocol timers (helpers'
        long_timers) run on the first build only: the others get
        MPCOAP_LONG_TIMERS=0 and skip them (the timers are the same code);
  cpy   every tests/interop/test_*.py, tests/stress/test_*.py and
        tests/firmware/test_*.py as CPython unittest modules, with
        MICROPYTHON, MICROPYTHON_GIL and MPCOAP_ROOT set;
  ext   commands given with --suite-cmd that print `PASS <name>`,
        `FAIL <name>` or `SKIP <name>` lines (e.g. the qemu firmware run).

One line per test (`PASS`/`FAIL`/`SKIP` and its name; a failure's details
follow it, indented), and last a line exactly `N passed, M failed` (with
`, K skipped` when some were skipped). Exit status 1 if anything failed or
nothing ran. Every file and suite runs under a time limit, so a hang fails
instead of blocking. A file that crashes or exits non-zero fails even if the
tests it reported passed.
"""

import argparse
import glob
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.environ.get("WORK") or os.path.join(ROOT, "build")

TAG = "@@mpcoap-result "
DETAIL = "@@mpcoap-detail "


class Tally:
    def __init__(self, verbose):
        self.passed = self.failed = self.skipped = 0
        self.verbose = verbose
        self.failures = []

    def report(self, status, name, detail=""):
        if status == "PASS":
            self.passed += 1
            print("PASS " + name, flush=True)
        elif status == "SKIP":
            self.skipped += 1
            reason = detail.strip().splitlines()[0] if detail.strip() else ""
            print("SKIP " + name + (" (" + reason + ")" if reason else ""), flush=True)
        else:
            self.failed += 1
            self.failures.append(name)
            print("FAIL " + name, flush=True)
            for line in detail.rstrip("\n").splitlines():
                print("    " + line)
            sys.stdout.flush()

    def note(self, text):
        """With -v: how long each file or suite took, as a `#` line."""
        if self.verbose:
            print("# " + text, flush=True)

    def summary(self):
        line = "%d passed, %d failed" % (self.passed, self.failed)
        if self.skipped:
            line += ", %d skipped" % self.skipped
        return line


def run_captured(cmd, env, cwd, timeout):
    """Runs cmd in its own process group; returns (exit status or None on
    timeout, combined output, seconds)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        status = proc.returncode
    except subprocess.TimeoutExpired:
        # The whole group: a test may have started servers of its own.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, _ = proc.communicate()
        status = None
    return status, out.decode("utf-8", "replace"), time.monotonic() - start


def tail(text, lines=30):
    ls = text.rstrip("\n").splitlines()
    if len(ls) > lines:
        ls = ["... (%d lines cut)" % (len(ls) - lines)] + ls[-lines:]
    return "\n".join(ls)


def exit_text(status):
    if status is None:
        return "timed out"
    if status < 0:
        try:
            return "killed by %s" % signal.Signals(-status).name
        except ValueError:
            return "killed by signal %d" % -status
    return "exit status %d" % status


# ---- MicroPython unittest scripts -------------------------------------------

# pycopy-unittest 0.7 (the one this project freezes) prints `name (Class) ...`
# before a test and ` ok`, ` FAIL`, ` ERROR` or ` skipped: reason` after it;
# output the test prints itself may come in between. Tracebacks follow at the
# end in blocks headed by `('name', <class 'Class'>)`. micropython-lib's
# unittest prints the same, except that the class carries its module,
# `name (__main__.Class) ...` (or `(test_x.Class)` when run by
# unittest.main(module)), and its blocks are headed `FAIL: name <class 'Class'>`.
START = re.compile(r"^(\w+) \((?:[\w.]+\.)?(\w+)\) \.\.\.(.*)$")
RESULT = re.compile(r"(?:^|\s)(ok|FAIL|ERROR)$")
SKIPPED = re.compile(r"(?:^|\s)skipped: ?(.*)$")
ERR_HEAD = re.compile(r"^(?:\('(\w+)', <class '(?:[\w.]+\.)?(\w+)'>\)|(?:FAIL|ERROR): (\w+) <class '(?:[\w.]+\.)?(\w+)'>)$")
RULE_EQ = "=" * 70
RULE_DASH = "-" * 70


def parse_pycopy(out):
    """Returns ([(status, Class.name, detail)], the test that started but did
    not finish or None, tracebacks by Class.name, N from `Ran N tests` or
    None, output lines of the unfinished test)."""
    results, current, pending = [], None, []
    lines = out.splitlines()
    i = 0
    ran = None
    tracebacks = {}
    while i < len(lines):
        line = lines[i]
        if line == RULE_EQ and i + 1 < len(lines) and ERR_HEAD.match(lines[i + 1]):
            m = ERR_HEAD.match(lines[i + 1])
            name, cls = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            key = cls + "." + name
            j = i + 2
            if j < len(lines) and lines[j] == RULE_DASH:
                j += 1
            body = []
            while j < len(lines) and lines[j] != RULE_EQ and not (
                    lines[j] == RULE_DASH and j + 1 < len(lines) and lines[j + 1].startswith("Ran ")):
                body.append(lines[j])
                j += 1
            tracebacks[key] = "\n".join(body)
            i = j
            continue
        m = re.match(r"^Ran (\d+) tests?$", line)
        if m and current is None:
            ran = int(m.group(1))
        s = START.match(line)
        if s and current is None:
            current = s.group(2) + "." + s.group(1)
            pending = []
            rest = s.group(3)
        elif current is not None:
            rest = line
        else:
            i += 1
            continue
        r = RESULT.search(rest)
        k = SKIPPED.search(rest)
        if k:
            results.append(("SKIP", current, k.group(1)))
            current = None
        elif r:
            prefix = rest[:r.start()].strip()
            if prefix:
                pending.append(prefix)
            status = "PASS" if r.group(1) == "ok" else "FAIL"
            results.append((status, current, "\n".join(pending) if status == "FAIL" else ""))
            current = None
        elif rest.strip():
            pending.append(rest)
        i += 1
    return results, current, tracebacks, ran, pending


def run_mp_file(tally, label, binary, path, env, timeout):
    file_id = "mp/%s/%s" % (label, os.path.splitext(os.path.basename(path))[0])
    status, out, secs = run_captured([binary, path], env, HERE, timeout)
    tally.note("%s: %s in %.1f s" % (file_id, exit_text(status), secs))
    results, unfinished, tracebacks, ran, pending = parse_pycopy(out)
    for st, name, detail in results:
        if st == "FAIL":
            tb = tracebacks.get(name, "")
            detail = "\n".join(x for x in (detail, tb) if x)
        tally.report(st, file_id + "." + name, detail)
    if unfinished is not None:
        tally.report("FAIL", file_id + "." + unfinished,
                     "%s during this test after %.0f s\n%s" % (exit_text(status), secs, tail("\n".join(pending) or out)))
    elif status != 0 and not any(st == "FAIL" for st, _, _ in results):
        tally.report("FAIL", file_id + " (%s)" % exit_text(status), tail(out))
    elif status is None:
        tally.report("FAIL", file_id + " (timed out after %d s)" % timeout, tail(out))
    elif not results:
        tally.report("FAIL", file_id + " (no tests ran)", tail(out))
    elif ran is not None and ran != len(results):
        tally.report("FAIL", file_id + " (ran %d tests, parsed %d)" % (ran, len(results)), tail(out))


# ---- CPython unittest files -------------------------------------------------

def run_cpy_file(tally, path, env, timeout):
    file_id = os.path.relpath(path, HERE)
    cmd = [sys.executable, os.path.join(HERE, "runner", "cpy_unit.py"), path]
    status, out, secs = run_captured(cmd, env, ROOT, timeout)
    tally.note("%s: %s in %.1f s" % (file_id, exit_text(status), secs))
    entries, stray = [], []
    for line in out.splitlines():
        if line.startswith(TAG):
            st, _, name = line[len(TAG):].partition(" ")
            entries.append([st, name, []])
        elif line.startswith(DETAIL) and entries:
            entries[-1][2].append(line[len(DETAIL):])
        else:
            stray.append(line)
    for st, name, detail in entries:
        tally.report(st if st in ("PASS", "SKIP") else "FAIL", name, "\n".join(detail))
    failed_reported = any(st not in ("PASS", "SKIP") for st, _, _ in entries)
    if status is None:
        tally.report("FAIL", file_id + " (timed out after %d s)" % timeout, tail("\n".join(stray)))
    elif status != 0 and not failed_reported:
        tally.report("FAIL", file_id + " (%s)" % exit_text(status), tail("\n".join(stray)))
    elif not entries:
        tally.report("FAIL", file_id + " (no tests ran)", tail("\n".join(stray)))


# ---- external suites ----------------------------------------------------------

EXT_LINE = re.compile(r"^(PASS|FAIL|SKIP) (\S.*)$")


def run_ext(tally, spec, env, timeout):
    label, sep, cmd = spec.partition("::")
    if not sep:
        label, cmd = "ext", spec
    status, out, secs = run_captured(["bash", "-c", cmd], env, ROOT, timeout)
    tally.note("%s: %s in %.1f s" % (label, exit_text(status), secs))
    seen = fails = 0
    other = []
    for line in out.splitlines():
        m = EXT_LINE.match(line.strip())
        if m:
            seen += 1
            fails += m.group(1) == "FAIL"
            tally.report(m.group(1), m.group(2), tail("\n".join(other), 15) if m.group(1) == "FAIL" else "")
            other = []
        else:
            other.append(line)
    if status is None:
        tally.report("FAIL", "%s (timed out after %d s)" % (label, timeout), tail(out))
    elif status != 0 and not fails:
        tally.report("FAIL", "%s (%s)" % (label, exit_text(status)), tail(out))
    elif not seen:
        tally.report("FAIL", "%s (no tests ran)" % label, tail(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--micropython", default=os.path.join(WORK, "unix", "micropython"),
                    help="default unix build (threads without GIL)")
    ap.add_argument("--micropython-gil", default=os.path.join(WORK, "unix-gil", "micropython"),
                    help="unix build with MICROPY_PY_THREAD_GIL=1")
    ap.add_argument("--lib", default=os.path.join(WORK, "lib"), help="folder holding unittest.py")
    ap.add_argument("--only", default="mp,cpy,ext", help="comma list of suites: mp, cpy, ext")
    ap.add_argument("--builds", default="default,gil", help="MicroPython builds to run: default, gil")
    ap.add_argument("-k", dest="pattern", default="", help="only files whose name contains this")
    ap.add_argument("--timeout", type=int, default=300, help="seconds per MicroPython test file")
    ap.add_argument("--cpy-timeout", type=int, default=1200, help="seconds per CPython test file")
    ap.add_argument("--suite-cmd", action="append", default=[], metavar="[LABEL::]CMD",
                    help="external suite printing PASS/FAIL/SKIP lines (repeatable)")
    ap.add_argument("--suite-timeout", type=int, default=1800, help="seconds per external suite")
    ap.add_argument("-v", "--verbose", action="store_true", help="also print each file's exit and duration")
    args = ap.parse_args()

    only = set(x.strip() for x in args.only.split(",") if x.strip())
    builds = [b.strip() for b in args.builds.split(",") if b.strip()]
    binaries = {"default": os.path.abspath(args.micropython), "gil": os.path.abspath(args.micropython_gil)}
    tally = Tally(args.verbose)

    env = dict(os.environ)
    env["MPCOAP_ROOT"] = ROOT
    env["MICROPYTHON"] = binaries["default"]
    env["MICROPYTHON_GIL"] = binaries["gil"]
    # The tests' folder first (helpers), then unittest.py, then the frozen
    # modules (asyncio, coap_asyncio), which a MICROPYPATH leaves out unless
    # it names ".frozen".
    env["MICROPYPATH"] = os.pathsep.join([HERE, os.path.abspath(args.lib), ".frozen"])
    env["PYTHONUNBUFFERED"] = "1"

    def selected(paths):
        return [p for p in sorted(paths) if args.pattern in os.path.basename(p)]

    if "mp" in only:
        files = selected(glob.glob(os.path.join(HERE, "test_*.py")))
        for label in builds:
            binary = binaries.get(label)
            if binary is None:
                tally.report("FAIL", "mp/%s (unknown build)" % label)
                continue
            if not os.access(binary, os.X_OK):
                tally.report("FAIL", "mp/%s (no binary at %s; run make unix-all)" % (label, binary))
                continue
            build_env = dict(env)
            if label != builds[0]:
                build_env["MPCOAP_LONG_TIMERS"] = "0"
            for path in files:
                run_mp_file(tally, label, binary, path, build_env, args.timeout)

    if "cpy" in only:
        files = selected(glob.glob(os.path.join(HERE, "interop", "test_*.py")) +
                         glob.glob(os.path.join(HERE, "stress", "test_*.py")) +
                         glob.glob(os.path.join(HERE, "firmware", "test_*.py")))
        for path in files:
            run_cpy_file(tally, path, env, args.cpy_timeout)

    if "ext" in only:
        for spec in args.suite_cmd:
            run_ext(tally, spec, env, args.suite_timeout)

    print(tally.summary(), flush=True)
    return 1 if tally.failed or not (tally.passed or tally.skipped) else 0


if __name__ == "__main__":
    sys.exit(main())
