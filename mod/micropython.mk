# The coap module for MicroPython's Make ports (unix, qemu). Used as
#   make -C ports/unix USER_C_MODULES=<repo root>
# which includes every <repo root>/*/micropython.mk, i.e. this file.
#
# It compiles the C shim (every mod/*.c; MicroPython scans them for QSTRs) and
# has cargo build the Rust engine as a staticlib into the port's $(BUILD) dir.
#
# Knobs (set on the port's make command line):
#   MPCOAP_RUST_TARGET           Rust target triple for cross ports, e.g.
#                                riscv32imac-unknown-none-elf; empty = host.
#   MPCOAP_ARCHIVE_POSTPROCESS   command run as `<cmd> <in.a> <out>` to turn
#                                cargo's archive into the one linked (e.g. to
#                                localise every symbol but mpcoap_*); empty =
#                                plain copy.
#   MPCOAP_LINK_TARGET           the file the port links; the archive becomes
#                                its prerequisite, so it is in `$^` after the
#                                objects. Default: $(BUILD)/$(PROG) (unix) or
#                                $(BUILD)/firmware.elf (qemu).
#   CARGO, MPCOAP_CARGO_FLAGS    cargo binary and extra flags.

# USERMOD_DIR is reassigned for every module, so capture it now.
MPCOAP_MOD_DIR := $(USERMOD_DIR)
MPCOAP_ROOT := $(abspath $(MPCOAP_MOD_DIR)/..)

SRC_USERMOD_C += $(sort $(wildcard $(MPCOAP_MOD_DIR)/*.c))
CFLAGS_USERMOD += -I$(MPCOAP_MOD_DIR)

CARGO ?= cargo
MPCOAP_RUST_TARGET ?=
MPCOAP_ARCHIVE_POSTPROCESS ?=
MPCOAP_CARGO_FLAGS ?=
MPCOAP_CARGO_DIR = $(BUILD)/mpcoap-cargo
MPCOAP_CARGO_OUT = $(MPCOAP_CARGO_DIR)/$(if $(MPCOAP_RUST_TARGET),$(MPCOAP_RUST_TARGET)/)release/libmpcoap.a
MPCOAP_ARCHIVE := $(BUILD)/libmpcoap.a
MPCOAP_LINK_TARGET ?= $(if $(PROG),$(BUILD)/$(PROG),$(BUILD)/firmware.elf)

LDFLAGS_USERMOD += $(MPCOAP_ARCHIVE)

$(MPCOAP_LINK_TARGET): $(MPCOAP_ARCHIVE)

# cargo runs on every make and decides staleness itself. Its output file is
# only rewritten when something changed, and make compares mtimes from there
# on, so an up-to-date build relinks nothing.
.PHONY: mpcoap-cargo-always
$(MPCOAP_CARGO_OUT): mpcoap-cargo-always
	$(ECHO) "CARGO $(if $(MPCOAP_RUST_TARGET),$(MPCOAP_RUST_TARGET),host) libmpcoap.a"
	$(Q)$(CARGO) rustc --manifest-path $(MPCOAP_ROOT)/Cargo.toml --lib --crate-type staticlib \
	  --features micropython --release --locked --target-dir $(MPCOAP_CARGO_DIR) \
	  $(if $(MPCOAP_RUST_TARGET),--target $(MPCOAP_RUST_TARGET)) $(MPCOAP_CARGO_FLAGS)

$(MPCOAP_ARCHIVE): $(MPCOAP_CARGO_OUT)
	$(Q)$(if $(MPCOAP_ARCHIVE_POSTPROCESS),$(MPCOAP_ARCHIVE_POSTPROCESS) $< $@.tmp,cp $< $@.tmp)
	$(Q)mv -f $@.tmp $@
