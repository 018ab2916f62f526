# Pinned versions and shared paths. Change a pin here, nowhere else.

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
# Everything downloaded or built lives under here (not committed).
WORK ?= $(ROOT)/build

# MicroPython release the module is built and tested against.
MICROPY_VERSION ?= 1.26.1
