"""The engine's panic path in the unix builds calls nothing of MicroPython.

Rust's panic handler calls the shim's mpcoap_port_panic() inside an engine call,
below a Rust frame: anything there that can raise would nlr_jump across that
frame, and anything that runs Python code could take the module's lock again.
MicroPython's printing can do both (on unix, mp_hal_stdout_tx_strn() retries
EINTR through mp_handle_pending()). So the function may call only the C
library (write to stderr, errno, abort). Checked on the binaries the tests run,
by disassembling the function (the builds keep their symbols).

When the engine has no reachable panic at all (every slice access checked,
nothing that can fail unwraps), link-time optimisation drops Rust's panic
handler and with it mpcoap_port_panic: then no symbol of the binary may name a
panic, which is the stronger property.
"""

import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cpython"))
import support as S  # noqa: E402  (tests/cpython/support.py)

ALLOWED = {"write", "__errno_location", "abort", "memcpy", "__stack_chk_fail"}
CALL = re.compile(r"\b(?:call|jmp)\w*\s+[0-9a-f]+ <([^>+]+)(?:\+0x[0-9a-f]+)?>")


def callees(binary, function):
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "--disassemble=" + function, binary],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=True).stdout.decode()
    names = {m.group(1) for m in CALL.finditer(out)}
    names.discard(function)  # jumps inside the function itself
    return {n.split("@")[0] for n in names}, out


@unittest.skipUnless(shutil.which("objdump"), "needs objdump (binutils)")
class PanicPath(unittest.TestCase):
    def test_port_panic_calls_only_the_c_library(self):
        for gil in (False, True):
            binary = S.micropython(gil, required=True)
            symbols = subprocess.run(["nm", binary], stdout=subprocess.PIPE, check=True).stdout.decode().split("\n")
            panics = [line for line in symbols if "panic" in line.lower()]
            if not any(line.endswith(" mpcoap_port_panic") for line in panics):
                # No panic path survived linking: nothing may mention one.
                self.assertEqual(panics, [], "%s: panic symbols without mpcoap_port_panic" % binary)
                continue
            names, out = callees(binary, "mpcoap_port_panic")
            self.assertTrue(names, "mpcoap_port_panic not disassembled in %s:\n%s" % (binary, out[-2000:]))
            self.assertLessEqual(names, ALLOWED, "%s: mpcoap_port_panic calls %s" % (binary, sorted(names - ALLOWED)))


if __name__ == "__main__":
    unittest.main()
