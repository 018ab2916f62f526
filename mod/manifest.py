# Frozen into the unix builds (FROZEN_MANIFEST in mk/unix.mk): MicroPython's
# own asyncio package from the pinned source tree, as the unix port's
# standard variant would freeze it, and coap_asyncio. Firmware images get
# both through boards/manifest.py.
include("$(MPY_DIR)/extmod/asyncio")
module("coap_asyncio.py")
