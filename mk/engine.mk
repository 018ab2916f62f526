# mk/engine.mk: the Rust engine (codec + engine): tests, lints, docs, the
# RISC-V builds, the no_std dependency check and the fuzz targets.
# See the top-level Makefile; docs/engine.md explains the checks.

# The esp32c3 (imc) and esp32c6 (imac) targets; the Engine's size
# assertion in src/capacity.rs is checked by these builds.
ENGINE_RISCV_TARGETS := riscv32imc-unknown-none-elf riscv32imac-unknown-none-elf
# Every cargo-fuzz target in fuzz/Cargo.toml.
FUZZ_TARGETS := parse server storage client
# Short runs inside test-engine, long runs for `make fuzz` (seconds per target).
FUZZ_SHORT_SECONDS ?= 20
FUZZ_SECONDS ?= 3600
FUZZ_JOBS ?= 1
# Flags for libFuzzer. -s none: the engine is safe Rust (one unsafe block,
# the in-place init), so AddressSanitizer adds little but a 4x slowdown.
FUZZ_MAX_LEN ?= 4096
FUZZ_SANITIZER ?= none

.PHONY: test-engine engine-nostd-check fuzz-short fuzz

test-engine: ## Rust engine: cargo test, clippy -D warnings, docs -Dwarnings, RISC-V builds, no_std dependency check, short fuzz runs
	cargo test
	cargo clippy --all-targets -- -D warnings
	RUSTDOCFLAGS=-Dwarnings cargo doc --no-deps
	@set -e; for t in $(ENGINE_RISCV_TARGETS); do \
	  echo "cargo build --target $$t"; cargo build --target $$t; \
	done
	$(MAKE) --no-print-directory engine-nostd-check
	$(MAKE) --no-print-directory fuzz-short

engine-nostd-check: ## No dependency of the engine enables std or alloc on riscv32imac
	@set -euo pipefail; \
	tree=$$(cargo tree -e normal,features --target riscv32imac-unknown-none-elf -p mpcoap -f '{p} [{f}]'); \
	echo "$$tree"; \
	if grep -E '[[,]\s*(std|alloc)\s*[],]|feature "(std|alloc)"' <<<"$$tree"; then \
	  echo "engine-nostd-check: a dependency enables std or alloc (above)" >&2; exit 1; \
	fi; \
	echo "engine-nostd-check: no std/alloc features in the engine's dependencies"

# cargo-fuzz needs nightly; CI installs it (cargo install cargo-fuzz).
FUZZ_AVAILABLE = $(shell cargo +nightly fuzz --version >/dev/null 2>&1 && echo yes)

fuzz-short: ## Each fuzz target for FUZZ_SHORT_SECONDS (skipped without cargo-fuzz)
ifeq ($(FUZZ_AVAILABLE),yes)
	@set -eo pipefail; for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t; \
	  echo "fuzz-short: $$t for $(FUZZ_SHORT_SECONDS) s"; \
	  (cd fuzz && cargo +nightly fuzz run -s $(FUZZ_SANITIZER) $$t corpus/$$t seeds/$$t -- \
	    -max_len=$(FUZZ_MAX_LEN) -max_total_time=$(FUZZ_SHORT_SECONDS) -print_final_stats=1 2>&1 \
	    | grep -E '^(Done|stat::number_of_executed_units)|panicked|ERROR|SUMMARY') || \
	  { echo "fuzz-short: $$t failed; reproduce: cd fuzz && cargo +nightly fuzz run $$t <artifact>" >&2; exit 1; }; \
	done
else
	@echo "fuzz-short: SKIP (cargo-fuzz not installed; cargo install cargo-fuzz, needs the nightly toolchain)"
endif

fuzz: ## Long fuzz runs: FUZZ_SECONDS (default 3600) per target, FUZZ_JOBS in parallel (logs: fuzz/fuzz-N.log); crashes land in fuzz/artifacts/
ifeq ($(FUZZ_AVAILABLE),yes)
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s, $(FUZZ_JOBS) job(s)"; \
	  (cd fuzz && cargo +nightly fuzz run -s $(FUZZ_SANITIZER) $$t corpus/$$t seeds/$$t -- \
	    -max_len=$(FUZZ_MAX_LEN) -max_total_time=$(FUZZ_SECONDS) \
	    $(if $(filter-out 1,$(FUZZ_JOBS)),-jobs=$(FUZZ_JOBS) -workers=$(FUZZ_JOBS)) \
	    -print_final_stats=1); \
	done
else
	@echo "fuzz: cargo-fuzz is not installed (cargo install cargo-fuzz; needs the nightly toolchain)" >&2; exit 1
endif
