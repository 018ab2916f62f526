#!/usr/bin/env python3
"""Boot a qemu RV32 firmware with its console on a pty and run a command
against that pty as if it were a board's serial port, then stop qemu.

    qemu_device.py FIRMWARE.elf -- COMMAND ... {port} ...

Used to exercise `make test-device`'s runner (mpremote, tests/firmware/
run_device.py) without hardware: `{port}` in COMMAND becomes the pty.
Exits with COMMAND's status.
"""
import re
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__)
    elf, cmd = sys.argv[1], sys.argv[3:]
    qemu = subprocess.Popen(
        ["qemu-system-riscv32", "-machine", "virt", "-nographic", "-monitor", "null",
         "-semihosting", "-bios", "none", "-serial", "pty", "-kernel", elf],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        port = None
        deadline = time.monotonic() + 20
        while port is None and time.monotonic() < deadline:
            line = qemu.stdout.readline()
            if not line:
                break
            m = re.search(r"(/dev/pts/\d+)", line)
            port = m.group(1) if m else None
        if port is None:
            sys.exit("qemu_device: qemu gave no pty")
        time.sleep(0.5)  # let the firmware reach its REPL
        return subprocess.call([c.replace("{port}", port) for c in cmd])
    finally:
        qemu.kill()
        qemu.wait()


if __name__ == "__main__":
    sys.exit(main())
