# Frozen modules of every firmware this project builds (FROZEN_MANIFEST of
# the esp32 port; mk/firmware.mk passes it, or boards/<BOARD>/manifest.py if
# a board has its own).
#
# Everything upstream freezes for the esp32 port (asyncio, networking
# helpers, ... from micropython-lib, which the Docker image has as a
# submodule of MicroPython v1.26.1):
include("$(PORT_DIR)/boards/manifest.py")

# MicroPython's unittest, so `make test-device` needs no network on the board.
# It is the same file the unix and qemu tests use (PyPI pycopy-unittest 0.7,
# sha256-checked): build/lib/unittest.py in this repo, put there by
# `make unittest-lib` or, in the container, copied from the image.
module("unittest.py", base_path="../build/lib")

# coap_asyncio (docs/api.md): asyncio programs serve and send with the module.
module("coap_asyncio.py", base_path="../mod")
