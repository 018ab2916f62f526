# Frozen into the qemu VIRT_RV32 test firmware (see mk/firmware.mk, qemu-*):
# MicroPython's unittest (pycopy-unittest 0.7, the same file the unix tests
# use; MPY_LIB_DIR is a folder that holds it and a README.md), the tests'
# helpers module, since the qemu port has no filesystem to copy them to, and
# a `time` module, which the qemu port lacks (time.py here explains).
module("unittest.py", base_path="$(MPY_LIB_DIR)")
module("helpers.py", base_path="../..")
module("time.py")
# coap_asyncio, as in the firmware images: it must import on a port without
# `select` (asyncio is imported on first use).
module("coap_asyncio.py", base_path="../../../mod")
