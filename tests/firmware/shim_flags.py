#!/usr/bin/env python3
"""shim_flags.py BUILD_DIR REPO [--once]

Reads BUILD_DIR/compile_commands.json of the check project
(tests/firmware/cmake) and checks that every copy of the shim's sources
(REPO/mod/*.c) is compiled with ESP-IDF's build options, the executable's
copy included (micropython#18880): the stand-in options -O2,
-ffunction-sections, -fdata-sections, -std=gnu17 and the definitions NDEBUG
and MPCOAP_CHECK_IDF_DEFINITION=1. With --once, each also appears only once
on a command line (MicroPython >= 1.28.0 gives usermod the options itself).
Prints one PASS/FAIL line per target; exits 1 on a failure.
"""
import json
import os
import re
import shlex
import sys

WANT = ["-O2", "-ffunction-sections", "-fdata-sections", "-std=gnu17", "-DNDEBUG",
        "-DMPCOAP_CHECK_IDF_DEFINITION=1"]


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    once = "--once" in sys.argv
    if len(args) != 2:
        sys.exit(__doc__)
    build, repo = args
    with open(os.path.join(build, "compile_commands.json")) as f:
        entries = json.load(f)
    mod = os.path.realpath(os.path.join(repo, "mod")) + os.sep
    by_target = {}
    for e in entries:
        if not os.path.realpath(e["file"]).startswith(mod):
            continue
        words = shlex.split(e["command"])
        out = words[words.index("-o") + 1] if "-o" in words else ""
        m = re.search(r"CMakeFiles/([^/]+)\.dir/", out)
        by_target.setdefault(m.group(1) if m else "?", []).append((e["file"], words))
    fails = 0
    for target in ("mpcoap_check_main", "mpcoap_check_elf"):
        files = by_target.get(target, [])
        problems = []
        if not files:
            problems.append("no shim source compiled for this target")
        for path, words in files:
            for w in WANT:
                n = words.count(w)
                if n == 0 or (once and n > 1):
                    problems.append("%s: %s %s" % (os.path.basename(path), w, "missing" if n == 0 else "given %d times" % n))
        if problems:
            fails += 1
            print("FAIL cmake: shim compiled for %s with ESP-IDF's options%s:" % (target, " (each once)" if once else ""))
            for p in problems[:12]:
                print("  " + p)
        else:
            print("PASS cmake: %d shim sources compiled for %s with %s%s"
                  % (len(files), target, " ".join(WANT), " (each once)" if once else ""))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
