#!/usr/bin/env python3
"""The Docker image must build with the pins the rest of the tree uses.

The image cannot be built here (no Docker engine), so this checks what it
can: the Rust toolchain the image installs is the one rust-toolchain.toml
pins, with every component and target that file lists (cargo runs under
/src inside the container, where rustup reads the file; anything missing
would be downloaded at firmware-build time, which fails offline), and the
MicroPython release and commit are those of mk/config.mk.

Usage: check_pins.py REPO_ROOT. Prints one PASS/FAIL line per pin; exits 1
on any FAIL.
"""
import re
import sys
import tomllib
from pathlib import Path


def dockerfile_args(text):
    return dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.M))


def installed_words(text, command):
    """Every word after `rustup <command> add` in the Dockerfile's RUN lines."""
    words = set()
    for m in re.finditer(r"rustup %s add ([^\\&\n]+)" % command, text):
        words.update(m.group(1).split())
    return words


def make_vars(text):
    return dict(re.findall(r"^(\w+) [:?]?= *(\S+)", text, re.M))


def main():
    root = Path(sys.argv[1])
    toolchain = tomllib.loads((root / "rust-toolchain.toml").read_text())["toolchain"]
    dockerfile = (root / "docker/Dockerfile").read_text()
    args = dockerfile_args(dockerfile)
    config = make_vars((root / "mk/config.mk").read_text())

    checks = [
        ("Rust version", toolchain["channel"], args.get("RUST_VERSION")),
        ("MicroPython version", config.get("MICROPY_VERSION"), args.get("MICROPYTHON_VERSION")),
        ("MicroPython commit", config.get("MICROPY_GIT_COMMIT"), args.get("MICROPYTHON_COMMIT")),
    ]
    failed = 0
    for what, want, got in checks:
        ok = want is not None and want == got
        failed += not ok
        print("%s docker/Dockerfile %s: %s (pinned %s)" % ("PASS" if ok else "FAIL", what, got, want))
    for kind, listed in (("component", toolchain.get("components", [])),
                         ("target", toolchain.get("targets", []))):
        have = installed_words(dockerfile, kind)
        missing = sorted(set(listed) - have)
        failed += bool(missing)
        print("%s docker/Dockerfile installs every rust-toolchain.toml %s%s" % (
            "FAIL" if missing else "PASS", kind, ": missing " + " ".join(missing) if missing else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
