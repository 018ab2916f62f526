#!/usr/bin/env python3
"""`make flash` / `make erase` through the container, checked by a dry run.

    check_flash_cmdline.py REPO WORKDIR

Without a host esptool, flashing runs esptool in the build container. That
container sees only the repository (mounted at /src) and runs as the
caller's uid:gid, so its command line must (1) name the firmware by a path
the container can open, i.e. under /src or relative to it, never a host
path, and (2) pass the serial device together with the device's group
(--group-add), since a port is root:dialout 0660. The offset must be the
build's CONFIG_BOOTLOADER_OFFSET_IN_FLASH.

This builds a fake board build under WORKDIR (inside REPO, as a real one
is): an sdkconfig with an offset no chip table would give for the board, an
empty firmware.bin, and a file outside the repo standing for the serial port. Then it runs
`make -n flash` and `make -n erase` with ESPTOOL empty (so the container
path is taken) and checks the docker command line. It first checks itself:
the command line the firmware path had before (absolute host path, no
--group-add) must be rejected.
"""
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

BOARD = "ESP32_GENERIC_C3"
CHIP = "esp32c3"
# ESP-IDF's Kconfig gives esp32c3 0x0; a distinct value proves the offset
# comes from the sdkconfig.
SENTINEL_OFFSET = "0x2000"


def docker_argv(dry_run_output):
    """The docker run command of a `make -n` output, as argv."""
    for line in dry_run_output.splitlines():
        words = shlex.split(line, posix=True) if "docker run" in line else []
        if words[:2] == ["docker", "run"]:
            return words
    return None


def check(argv, repo, port, port_gid, firmware_host, want_write):
    """Problems with a container esptool command line (empty: none)."""
    if argv is None:
        return ["no `docker run` line: is the container path still what make flash uses?"]
    problems = []
    mounts = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-v"]
    src = [m.split(":", 1)[0] for m in mounts if m.split(":", 1)[-1] == "/src"]
    if src != [repo]:
        problems.append("the repository is not mounted at /src (mounts: %r)" % mounts)
    try:
        workdir = argv[argv.index("-w") + 1]
    except (ValueError, IndexError):
        workdir = None
    if workdir != "/src":
        problems.append("working directory is %r, not /src" % workdir)
    # Options before the image; the image is the first word after them that
    # is not an option or an option's value.
    i, image = 2, None
    takes_value = {"-u", "-e", "-v", "-w", "--device", "--group-add"}
    while i < len(argv):
        if argv[i] in takes_value:
            i += 2
        elif argv[i].startswith("-"):
            i += 1
        else:
            image = i
            break
    opts = argv[2:image] if image else argv[2:]
    pairs = {(opts[k], opts[k + 1]) for k in range(len(opts) - 1)}
    if ("--device", port) not in pairs:
        problems.append("no --device %s" % port)
    if ("--group-add", str(port_gid)) not in pairs:
        problems.append("no --group-add %d (the serial port's group)" % port_gid)
    inside = argv[image + 1:] if image else []
    for a in inside:
        if a.startswith(repo + "/") or a == repo:
            problems.append("host path inside the container: %s" % a)
    if want_write:
        if "write_flash" not in inside:
            problems.append("no write_flash")
        else:
            k = inside.index("write_flash")
            rest = [a for a in inside[k + 1:] if a != "-z"]
            if len(rest) != 2:
                problems.append("write_flash arguments %r are not OFFSET FILE" % rest)
            else:
                offset, path = rest
                if offset != SENTINEL_OFFSET:
                    problems.append("offset %s, not the sdkconfig's %s" % (offset, SENTINEL_OFFSET))
                seen = path if path.startswith("/") else os.path.join("/src", path)
                host = repo + seen[len("/src"):] if seen.startswith("/src/") else None
                if host is None or os.path.realpath(host) != os.path.realpath(firmware_host):
                    problems.append("firmware %s is not %s as the container sees it" % (path, firmware_host))
    return problems


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    repo, work = os.path.realpath(sys.argv[1]), os.path.realpath(sys.argv[2])
    if not work.startswith(repo + "/"):
        sys.exit("check_flash_cmdline: WORKDIR must be inside REPO (the container sees only the repo)")
    esp32_build = os.path.join(work, "esp32")
    board_dir = os.path.join(esp32_build, BOARD)
    os.makedirs(board_dir, exist_ok=True)
    with open(os.path.join(board_dir, "sdkconfig"), "w") as f:
        f.write("CONFIG_IDF_TARGET=\"%s\"\nCONFIG_BOOTLOADER_OFFSET_IN_FLASH=%s\n" % (CHIP, SENTINEL_OFFSET))
    firmware = os.path.join(board_dir, "firmware.bin")
    open(firmware, "wb").close()
    # The serial device keeps its host path in the container (--device), so
    # the stand-in lives outside the repository, as /dev is.
    port_dir = tempfile.mkdtemp(prefix="mpcoap-flash-check-")
    port = os.path.join(port_dir, "ttyFAKE0")
    open(port, "wb").close()
    port_gid = os.stat(port).st_gid
    try:
        return run_checks(repo, esp32_build, firmware, port, port_gid)
    finally:
        shutil.rmtree(port_dir)


def run_checks(repo, esp32_build, firmware, port, port_gid):
    fails = 0

    # The checker rejects what make flash ran before this check existed.
    old = ("docker run --rm -u \"$(id -u):$(id -g)\" -e HOME=/tmp -v \"%s:/src\" -w /src --device \"%s\" "
           "IMAGE esptool.py --chip %s --port %s --baud 460800 write_flash -z %s %s"
           % (repo, port, CHIP, port, SENTINEL_OFFSET, firmware))
    got = check(docker_argv(old), repo, port, port_gid, firmware, True)
    if any("host path" in p for p in got) and any("--group-add" in p for p in got):
        print("PASS flash dry run: the checker rejects a host path and a missing --group-add")
    else:
        print("FAIL flash dry run: the checker accepted the old command line: %r" % got)
        fails += 1

    for target, want_write in (("flash", True), ("erase", False)):
        cmd = ["make", "-n", "--no-print-directory", "-C", repo, target, "BOARD=" + BOARD, "PORT=" + port,
               "ESPTOOL=", "DOCKER=docker", "ESP32_BUILD=" + esp32_build]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        problems = check(docker_argv(r.stdout), repo, port, port_gid, firmware, want_write)
        if r.returncode != 0:
            problems.insert(0, "make -n %s failed (%d)" % (target, r.returncode))
        if problems:
            fails += 1
            print("FAIL make %s through the container:" % target)
            for p in problems:
                print("  " + p)
            print("  output of %s:\n    %s" % (" ".join(cmd), r.stdout.strip().replace("\n", "\n    ")))
        else:
            line = next(l for l in r.stdout.splitlines() if "docker run" in l)
            print("PASS make %s through the container: %s" % (target, line.strip()))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
