# mk/bench.mk: benchmarks against libcoap and aiocoap (see BENCHMARKS.md).
#
#   make bench                 module vs libcoap vs aiocoap, side by side, then bench-rv32
#   make bench-rv32            instructions per request and stack per entry point in the
#                              qemu RV32 firmware (deterministic; budgets checked in make test)
#   make bench BENCH_SECONDS=10 BENCH_CONFIGS=1x1,8x1,8x4,32x1
#   make stress                tests/stress (also part of `make test`)
#   make stress-flood-full     the 100,000-datagram flood, recorded in BENCHMARKS.md

BENCH_SECONDS ?= 5
# Each row shows its best round: load from elsewhere on the machine only slows runs down.
BENCH_ROUNDS ?= 2
# CLIENTSxINFLIGHT per row: clients each have their own socket and thread.
BENCH_CONFIGS ?= 1x1,8x1,8x4
COAP_LOAD := $(ROOT)/target/release/coap-load
BENCH_OUT := $(WORK)/bench/results.json
# 1: also run the codec micro-benchmark (mpcoap vs coap-lite, a few seconds).
BENCH_CODEC ?= 1
# 1: also run bench-rv32 (builds both qemu firmwares the first time).
BENCH_RV32 ?= 1
# The one place the RV32 budgets are named (instructions per request, stack bytes).
RV32_BUDGETS := $(ROOT)/tests/bench/rv32_budgets.json
RV32_BENCH = python3 $(ROOT)/tests/bench/rv32_bench.py --micropython $(MICROPY_SRC) \
  $(foreach a,$(QEMU_ARCHS),--firmware $(a)=$(call qemu_build,$(a))/firmware.elf)

.PHONY: bench bench-rv32 bench-memory firmware-check-rv32-budget coap-load stress stress-flood-full

coap-load: ## Build tools/coap-load, the CoAP GET load generator (target/release/coap-load)
	cargo build --release -p coap-load

bench: unix coap-load ## Side-by-side GET throughput/latency: the module (unix build) vs libcoap coap-server vs aiocoap
	python3 $(ROOT)/tests/bench/run_bench.py --micropython $(UNIX_BIN) --load $(COAP_LOAD) \
	  --seconds $(BENCH_SECONDS) --rounds $(BENCH_ROUNDS) --configs $(BENCH_CONFIGS) --json $(BENCH_OUT)
	@echo "results: $(BENCH_OUT)"
	$(if $(filter 1,$(BENCH_CODEC)),cargo bench --bench codec)
	$(if $(filter 1,$(BENCH_RV32)),$(MAKE) --no-print-directory bench-rv32)

bench-rv32: qemu-firmware ## Instructions per request (engine alone and whole hook) and stack per entry point, qemu RV32 firmware under -icount shift=0, both targets (BENCHMARKS.md)
	$(RV32_BENCH) --json $(WORK)/bench/rv32.json

bench-memory: unix qemu-firmware firmware-check-size ## GC heap at init() and per item (resource, value, attribute, session, request), unix 64-bit and qemu RV32 side by side (BENCHMARKS.md "Memory")
	python3 $(ROOT)/tests/bench/memory_items.py --unix $(UNIX_BIN) \
	  $(foreach a,$(QEMU_ARCHS),--qemu-json $(a)=$(FIRMWARE_CHECKS_DIR)/heap-$(a).json) --json $(WORK)/bench/memory.json

# Run by test-firmware-checks after the qemu firmwares are built.
firmware-check-rv32-budget: ## The bench-rv32 figures against tests/bench/rv32_budgets.json: a PASS/FAIL line each
	@echo "-- instructions per request and stack depth in the qemu RV32 firmware, against $(notdir $(RV32_BUDGETS))"
	$(RV32_BENCH) --budgets $(RV32_BUDGETS) --json $(FIRMWARE_CHECKS_DIR)/rv32.json

# tests/stress is part of `make test` (tests/run.py, cpy suite); this runs it alone.
# Verbose: each test prints its measured figures (wall time, bytes/GET, ...).
STRESS_PATTERN ?= test_*.py
stress: unix unix-gil unittest-lib ## The stress tests alone, verbose: flood, lossy link, memory per GET, threads, valgrind
	MICROPYTHON=$(UNIX_BIN) MICROPYTHON_GIL=$(UNIX_GIL_BIN) MPCOAP_ROOT=$(ROOT) \
	  python3 -m unittest discover -v -s $(ROOT)/tests/stress -p '$(STRESS_PATTERN)'

# Same flood as in CI, printed verbosely, with an explicit count (default 100,000).
STRESS_FLOOD_COUNT ?= 100000
stress-flood-full: unix ## The malformed-datagram flood with STRESS_FLOOD_COUNT datagrams (default 100,000), verbose
	MICROPYTHON=$(UNIX_BIN) MPCOAP_ROOT=$(ROOT) STRESS_FLOOD_COUNT=$(STRESS_FLOOD_COUNT) \
	  python3 -m unittest -v $(ROOT)/tests/stress/test_flood.py
