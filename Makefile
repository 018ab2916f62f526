# The one build entry point of the project. `make help` lists every target.
#
# The parts live in mk/*.mk, one file per concern:
#   mk/config.mk    pinned versions and paths shared by the others
#   mk/engine.mk    the Rust engine: cargo test, clippy, docs, RISC-V builds, fuzz
#   mk/unix.mk      MicroPython's source, the unix builds, the test runner
#   mk/firmware.mk  ESP32 firmware through Docker, flashing, device tests,
#                   and the firmware checks that run without Docker (qemu RV32)
#   mk/bench.mk     benchmarks against libcoap and aiocoap

.DEFAULT_GOAL := firmware
SHELL := /bin/bash

include mk/config.mk
include mk/engine.mk
include mk/unix.mk
include mk/firmware.mk
include mk/bench.mk

.PHONY: test setup test-prerequisites help

setup: ## Install what make test needs on Debian 12 (apt packages via root or sudo, Python tools, Rust targets, nightly, cargo-fuzz)
	$(ROOT)/tools/setup.sh

# A fresh machine stops here, at once, with one line naming `make setup`.
test-prerequisites:
	@$(ROOT)/tools/setup.sh --check

# --no-print-directory: the runner's "N passed, M failed" must stay the last
# line (sub-makes would print "Leaving directory" after it).
test: test-prerequisites ## Everything CI runs: engine tests, firmware checks, then the MicroPython suites (ends with "N passed, M failed"); stops at once if make setup is needed
	$(MAKE) --no-print-directory test-engine
	$(MAKE) --no-print-directory test-firmware-checks
	$(MAKE) --no-print-directory test-micropython

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  %-22s %s\n", $$1, $$2}'
